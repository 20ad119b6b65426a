# The classifier container: `mhs run` as the entrypoint, OpenSlide 4 inside, CUDA-ready.
#
#   docker build -t my-lab/classifier .
#   docker run --rm --gpus all -e HOST=... -e TASK_ID=... ... my-lab/classifier
#
# Stages: build (Swift 6.3, static Swift runtime, stripped) → openslide (libopenslide.so.1
# out of the openslide-bin wheel) → runtime (NVIDIA CUDA runtime on Ubuntu 24.04, non-root).
ARG SWIFT_IMAGE=swift:6.3-noble
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-runtime-ubuntu24.04

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libspng-dev libturbojpeg0-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Package.swift declares every target, so their folders must be present to resolve.
COPY Package.swift ./
COPY Sources ./Sources
COPY Benchmarks ./Benchmarks
COPY Tests ./Tests
RUN swift build -c release --product mhs --static-swift-stdlib \
    && strip .build/release/mhs \
    && install -m 0755 .build/release/mhs /usr/local/bin/mhs

FROM python:3.12-slim AS openslide
RUN pip install --no-cache-dir openslide-bin==4.0.1.2 \
    && python -c "import openslide_bin, os, shutil; shutil.copy(os.path.join(os.path.dirname(openslide_bin.__file__), 'libopenslide.so.1'), '/libopenslide.so.1')"

FROM ${CUDA_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libspng0 libturbojpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 mhs \
    && mkdir -p /output \
    && chown mhs /output
COPY --from=openslide /libopenslide.so.1 /usr/local/lib/mhs/libopenslide.so.1
COPY --from=build /usr/local/bin/mhs /usr/local/bin/mhs
ENV MHS_OPENSLIDE_LIB=/usr/local/lib/mhs/libopenslide.so.1 \
    MHS_OUTPUT_DIR=/output \
    MHS_WORK_DIR=/tmp
USER 10001
ENTRYPOINT ["mhs", "run"]
