# The classifier container: `mhs run` as the entrypoint, OpenSlide 4 and ONNX Runtime inside.
#
#   docker build -t my-lab/classifier .                    # CPU image (the default target)
#   docker build --target gpu -t my-lab/classifier:gpu .   # GPU image: CUDA 13, cuDNN 9, onnxruntime-gpu
#   docker run --rm --gpus all -e HOST=... -e TASK_ID=... ... my-lab/classifier:gpu
#
# Stages: build (Swift 6.3, static Swift runtime, stripped) → libraries (libopenslide.so.1
# and the CPU libonnxruntime out of their wheels) → gpu-libraries (onnxruntime-gpu with its
# CUDA provider, and the CUDA 13 / cuDNN 9 libraries it needs, from NVIDIA's wheels) →
# gpu (CUDA 13 base image) and cpu (Ubuntu 24.04, last, so the default). Both run as a
# non-root user. The GPU image uses CUDA's "base" flavour: the wheels bring cuBLAS, cuFFT,
# cuRAND and cuDNN, which the "runtime" flavour would hold a second copy of. libcuda is
# never in an image: the NVIDIA container toolkit mounts the host's.
ARG SWIFT_IMAGE=swift:6.3-noble
ARG RUNTIME_IMAGE=ubuntu:24.04
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-base-ubuntu24.04
ARG ONNXRUNTIME_VERSION=1.31.1
# The commit the image is built from (`--build-arg MHS_COMMIT=$(git rev-parse HEAD)`):
# `mhs --version` prints it, and the image's OCI label carries it.
ARG MHS_COMMIT=unknown

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

FROM python:3.12-slim AS libraries
ARG ONNXRUNTIME_VERSION
RUN pip install --no-cache-dir --no-deps openslide-bin==4.0.1.2 onnxruntime==${ONNXRUNTIME_VERSION} \
    && python -c "import glob, os, shutil, sysconfig; sp = sysconfig.get_paths()['purelib']; os.makedirs('/out', exist_ok=True); [shutil.copy(f, '/out/') for f in [sp + '/openslide_bin/libopenslide.so.1'] + glob.glob(sp + '/onnxruntime/capi/libonnxruntime.so*')]"

FROM python:3.12-slim AS gpu-libraries
ARG ONNXRUNTIME_VERSION
# onnxruntime-gpu's extras name the CUDA 13 runtime, cuFFT, cuRAND, NVRTC and cuDNN 9 (with cuBLAS).
RUN pip install --no-cache-dir "onnxruntime-gpu[cuda,cudnn]==${ONNXRUNTIME_VERSION}" \
    && python -c "import glob, os, shutil, sysconfig; sp = sysconfig.get_paths()['purelib']; [os.makedirs(d, exist_ok=True) for d in ('/out/onnxruntime', '/out/cuda')]; [shutil.copy(f, '/out/onnxruntime/') for f in glob.glob(sp + '/onnxruntime/capi/libonnxruntime*.so*')]; [shutil.copy(f, '/out/cuda/') for f in glob.glob(sp + '/nvidia/**/lib/lib*.so*', recursive=True)]"

FROM ${CUDA_IMAGE} AS gpu
ARG ONNXRUNTIME_VERSION
ARG MHS_COMMIT
LABEL org.opencontainers.image.title="mhs" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.revision="${MHS_COMMIT}"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libspng0 libturbojpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 mhs \
    && mkdir -p /output \
    && chown mhs /output
COPY --from=libraries /out/libopenslide.so.1 /usr/local/lib/mhs/libopenslide.so.1
COPY --from=gpu-libraries /out/onnxruntime /usr/local/lib/mhs/onnxruntime
COPY --from=gpu-libraries /out/cuda /usr/local/lib/mhs/cuda
COPY --from=build /usr/local/bin/mhs /usr/local/bin/mhs
ENV MHS_OPENSLIDE_LIB=/usr/local/lib/mhs/libopenslide.so.1 \
    MHS_ONNXRUNTIME_LIB=/usr/local/lib/mhs/onnxruntime/libonnxruntime.so.${ONNXRUNTIME_VERSION} \
    MHS_CUBLAS_LIB=/usr/local/lib/mhs/cuda/libcublas.so.13 \
    MHS_CUDA_VERSION=13.0 \
    LD_LIBRARY_PATH=/usr/local/lib/mhs/cuda \
    MHS_OUTPUT_DIR=/output \
    MHS_WORK_DIR=/tmp \
    MHS_COMMIT=${MHS_COMMIT}
USER 10001
ENTRYPOINT ["mhs", "run"]

FROM ${RUNTIME_IMAGE} AS cpu
ARG ONNXRUNTIME_VERSION
ARG MHS_COMMIT
LABEL org.opencontainers.image.title="mhs" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.revision="${MHS_COMMIT}"
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libspng0 libturbojpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 mhs \
    && mkdir -p /output \
    && chown mhs /output
COPY --from=libraries /out/ /usr/local/lib/mhs/
COPY --from=build /usr/local/bin/mhs /usr/local/bin/mhs
ENV MHS_OPENSLIDE_LIB=/usr/local/lib/mhs/libopenslide.so.1 \
    MHS_ONNXRUNTIME_LIB=/usr/local/lib/mhs/libonnxruntime.so.${ONNXRUNTIME_VERSION} \
    MHS_OUTPUT_DIR=/output \
    MHS_WORK_DIR=/tmp \
    MHS_COMMIT=${MHS_COMMIT}
USER 10001
ENTRYPOINT ["mhs", "run"]
