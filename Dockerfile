# qlab images, multi-stage on Debian 12.
#   docker build --target server -t qlab/server .    coordinator (+ dashboard, CLI)
#   docker build --target worker -t qlab/worker .    CPU worker (LibTorch evaluators)
# A GPU worker is the worker image run with the NVIDIA container runtime on a GPU host; its
# CUDA kernels need the toolkit at build time (build with --build-arg CUDA=1 on a machine
# whose context has /usr/local/cuda, or use a CUDA base image of your site).
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/setup scripts/setup
RUN mkdir -p tests/web && scripts/setup
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DQLAB_BUILD_TESTS=OFF -DQLAB_BUILD_BENCH=OFF \
 && cmake --build /build -j"$(nproc)" --target qlab-server qlab-worker qlab-evaluate qlab qlab_sentencepiece

FROM debian:12 AS runtime-base
RUN apt-get update && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libsqlite3-0 libyaml-cpp0.7 libspdlog1.10 prometheus-cpp-dev libssl3 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/cli/qlab /usr/local/bin/qlab

FROM runtime-base AS server
COPY --from=build /build/server/qlab-server /usr/local/bin/qlab-server
COPY web /usr/share/qlab/web
VOLUME /var/lib/qlab
EXPOSE 7070 7080
ENV QLAB_DB=/var/lib/qlab/qlab.db QLAB_GRPC_LISTEN=0.0.0.0:7070 QLAB_HTTP_LISTEN=0.0.0.0:7080 \
    QLAB_WEB_ROOT=/usr/share/qlab/web
ENTRYPOINT ["/usr/local/bin/qlab-server"]

FROM runtime-base AS worker
RUN apt-get update && apt-get install -y --no-install-recommends \
      libtorch1.13 libopenblas0-pthread libsentencepiece0 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/worker/qlab-worker /usr/local/bin/qlab-worker
COPY --from=build /build/worker/qlab-evaluate /usr/local/bin/qlab-evaluate
# The SentencePiece shim is loaded from beside qlab-evaluate (evaluators/accuracy/tokenizer.h).
COPY --from=build /build/evaluators/accuracy/libqlab_sentencepiece.so /usr/local/bin/
COPY models /usr/share/qlab/models
EXPOSE 9100
ENV QLAB_COORDINATOR=qlab-server:7070 QLAB_WORKER_METRICS_LISTEN=0.0.0.0:9100
ENTRYPOINT ["/usr/local/bin/qlab-worker"]
