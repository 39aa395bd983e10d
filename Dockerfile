# syntax=docker/dockerfile:1
#
# The one shoppulse binary in a distroless image. Default command: the worker.
#   docker build -t shoppulse .
#   docker run --rm shoppulse version

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w -X main.version=${VERSION}" -o /out/shoppulse ./cmd/shoppulse

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/shoppulse /usr/local/bin/shoppulse
USER nonroot:nonroot
# Prometheus metrics (metrics.addr); set SHOPPULSE_METRICS_ADDR=0.0.0.0:9464.
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/shoppulse"]
CMD ["worker"]
