# contactd server image. Both stages install their packages with the same
# scripts/setup.sh that the README and CI use.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
# Build dependencies only: the MinIO server is for tests, not the image.
RUN SETUP_SKIP_MINIO=1 bash scripts/setup.sh
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/contactd ./cmd/contactd

FROM debian:bookworm-slim
COPY scripts/setup.sh /tmp/setup.sh
RUN bash /tmp/setup.sh --runtime && rm -rf /var/lib/apt/lists/* /tmp/setup.sh \
 && useradd --system --uid 10001 --home /var/lib/contactd --create-home contactd
COPY --from=build /out/contactd /usr/local/bin/contactd
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
