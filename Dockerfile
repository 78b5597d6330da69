# contactd server image. Both stages install their packages with the same
# scripts/setup.sh that the README and CI use.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
COPY tools/ortref/package.json tools/ortref/package-lock.json tools/ortref/
# Build dependencies and model files only: MinIO and the onnxruntime harness are for tests.
RUN CONTACTD_MODEL_DIR=/usr/local/share/contactd/models SETUP_SKIP_TEST_TOOLS=1 bash scripts/setup.sh
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/contactd ./cmd/contactd

FROM debian:bookworm-slim
COPY scripts/setup.sh /tmp/setup.sh
RUN bash /tmp/setup.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/setup.sh \
 && useradd --system --uid 10001 --home /var/lib/contactd --create-home contactd
COPY --from=build /out/contactd /usr/local/bin/contactd
COPY --from=build /usr/local/share/contactd/models /usr/local/share/contactd/models
COPY contactd.example.yaml /etc/contactd/contactd.yaml
USER contactd
WORKDIR /var/lib/contactd
ENV CONTACTD_CONFIG_FILE=/etc/contactd/contactd.yaml \
    CONTACTD_STORE=/var/lib/contactd/data \
    CONTACTD_LISTEN=0.0.0.0:8080
VOLUME /var/lib/contactd
EXPOSE 8080
ENTRYPOINT ["contactd"]
CMD ["serve"]
