# contactd — the two commands a newcomer needs:
#   make demo   set up, then run a demo clinic at http://127.0.0.1:8080 on local disk: two desks
#               stream real speech live; review, monitor and mirror pages fill within a minute
#   make test   set up, then run every check and test (the same as CI's .ci/run)

GO        ?= go
DAY       ?= demo/day
DAY_LEN   ?= 20m
STORE     ?= ./data
FUZZTIME  ?= 10s
BIN       := bin/contactd

.PHONY: setup build demo demo-offline test vet fuzz bench clean

setup:
	@bash scripts/setup.sh

build: setup
	$(GO) build -o $(BIN) ./cmd/contactd

# The main job on embedded defaults: contactd serve on local disk, no servers
# to configure, two desks streaming live (Ctrl-C stops it).
demo: build
	./$(BIN) demo --dir demo/live --listen 127.0.0.1:8080

# The offline pipeline: cut a generated reception day into clips on local disk (./data).
demo-offline: build
	@test -f $(DAY)/day.json || ./$(BIN) testdata day --out $(DAY) --length $(DAY_LEN) --video
	./$(BIN) analyze --media $(DAY)/recording.webm --station desk-1 \
		--events $(DAY)/events.jsonl --ratings $(DAY)/ratings.jsonl --store $(STORE)
	@echo
	@echo "Negative contacts, ready for review:"
	@./$(BIN) index list --store $(STORE) --set negative

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...

# Short runs of every fuzz target, from the committed corpora up.
# One fuzz target for FUZZTIME. Go's fuzzer sometimes ends a clean run with
# "context deadline exceeded" (a worker busy when the time is up); such a run
# is tried once more. An input that really fails is saved under testdata/fuzz
# and runs first on the retry, so it fails again.
fuzz1 = $(GO) test $(1) -run '^$$' -fuzz '^$(2)$$' -fuzztime $(FUZZTIME) || { echo "fuzz $(2): trying once more"; $(GO) test $(1) -run '^$$' -fuzz '^$(2)$$' -fuzztime $(FUZZTIME); }

fuzz:
	$(call fuzz1,./contact,FuzzParseEvents)
	$(call fuzz1,./contact,FuzzParseRatings)
	$(call fuzz1,./contact,FuzzParseMessage)
	$(call fuzz1,./storage,FuzzParseSidecar)
	$(call fuzz1,./config,FuzzLoadYAML)
	$(call fuzz1,./ingest,FuzzCheckOffer)
	$(call fuzz1,./capture,FuzzReadKeys)
	$(call fuzz1,./classifier/onnx,FuzzParse)
	$(call fuzz1,./classifier/emotion,FuzzParseLabels)
	$(call fuzz1,./review,FuzzParseBody)
	$(call fuzz1,./classifier/face,FuzzParseManifest)
	$(call fuzz1,./classifier/face,FuzzReadTar)
	$(call fuzz1,./classifier/face,FuzzParseDetectorHead)
	$(call fuzz1,./appointments,FuzzParseCSV)
	$(call fuzz1,./appointments,FuzzParseICS)
	$(call fuzz1,./evidence,FuzzParseManifest)
	$(call fuzz1,./storage,FuzzSealedRead)

# The pages' end-to-end test, the 50-station soak and the agent's real-time
# spool tests run on their own, so the other packages' tests do not take the cores their live
# capture needs (a starved agent drops audio, as a starved desk PC would).
test: setup vet
	$(GO) test -count=1 -timeout 60m -skip '^TestSoak$$' $$($(GO) list ./... | grep -v -e '^contactd/demo$$' -e '^contactd/cmd/contact-agent$$')
	$(GO) test -count=1 -timeout 20m -run '^TestSoak$$' ./cmd/contactd
	$(GO) test -count=1 -timeout 20m ./cmd/contact-agent
	$(GO) test -count=1 -timeout 20m ./demo
	$(MAKE) --no-print-directory fuzz

# Every benchmark beside its baseline, in one go, and one table of results
# (bench/results.md; BENCHMARKS.md says what each row measures): clip cutting
# against one ffmpeg process per clip, live ingest against pion's bare loop,
# mirror latency and clip availability on a real server with MinIO, the Go
# Silero VAD against onnxruntime, the voice path against Opus decoding, the
# face path against face-api and VP8 decoding.
bench: build
	@test -f bench/day/day.json || ./$(BIN) testdata day --out bench/day --length 2h --video
	@mkdir -p bench; test -f bench/dense.wav || { ls ../shared/datasets/ravdess/*.ogg | head -40 | sed "s/.*/file '&'/; s#'\.\./#'$(CURDIR)/../#" > bench/ravdess40.txt && \
	  ffmpeg -v error -f concat -safe 0 -i bench/ravdess40.txt -af silenceremove=stop_periods=-1:stop_duration=0.4:stop_threshold=-45dB -ar 16000 -ac 1 bench/dense.wav; }
	./$(BIN) bench all --day bench/day --audio bench/dense.wav --tar ../shared/datasets/fer2013/validation.tar --out bench/results.md

clean:
	rm -rf bin demo bench/day bench/dense.wav bench/ravdess40.txt
