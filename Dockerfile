# The classifier container: `mhs run` as the entrypoint, OpenSlide 4 and ONNX Runtime inside.
#
#   docker build -t my-lab/classifier .                    # CPU image (the default target)
#   docker build --target gpu -t my-lab/classifier:gpu .   # GPU image, CUDA 12 (driver >= 525)
#   docker build --target gpu --build-arg CUDA=13 -t my-lab/classifier:gpu-cuda13 .   # driver >= 580
#   docker run --rm --gpus all -e HOST=... -e TASK_ID=... ... my-lab/classifier:gpu
#
# Every stage is Debian 12: build (Swift 6.3, static Swift runtime, stripped) → libraries
# (libopenslide.so.1 and the CPU libonnxruntime out of their wheels) → gpu-libraries
# (onnxruntime-gpu with its CUDA provider and the CUDA / cuDNN 9 libraries it needs, from
# NVIDIA's wheels) → gpu and cpu (debian:bookworm-slim; cpu last, so the default). Both run as
# a non-root user. The GPU image needs no CUDA base image: the wheels bring the CUDA runtime,
# cuBLAS, cuFFT, cuRAND, NVRTC and cuDNN, and libcuda is never in an image — the NVIDIA
# container toolkit mounts the host's driver when the container starts with --gpus all.
#
# CUDA 12 is the default flavour: it runs on drivers from 525 on, CUDA 13 needs 580 or newer,
# and the platform does not publish its hosts' driver version. `mhs run` says in its log when
# the driver is older than the image's CUDA, and runs on the CPU rather than fail.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
ARG ONNXRUNTIME_VERSION=1.31.1
# The GPU image's CUDA major version: 12 (onnxruntime-gpu 1.23.2) or 13 (1.31.1).
ARG CUDA=12
# The commit the image is built from (`--build-arg MHS_COMMIT=$(git rev-parse HEAD)`):
# `mhs --version` prints it, and the image's OCI label carries it.
ARG MHS_COMMIT=unknown

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libspng-dev libturbojpeg0-dev pkg-config zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Package.swift declares every target, so their folders must be present to resolve.
COPY Package.swift ./
COPY Sources ./Sources
COPY Benchmarks ./Benchmarks
COPY Tests ./Tests
# The build folder is a cache: a change to one module recompiles that module, not all of them.
RUN --mount=type=cache,id=mhs-release-build,target=/src/.build \
    swift build -c release --product mhs --static-swift-stdlib \
    && install -m 0755 --strip .build/release/mhs /usr/local/bin/mhs

FROM ${PYTHON_IMAGE} AS libraries
ARG ONNXRUNTIME_VERSION
RUN pip install --no-cache-dir --no-deps openslide-bin==4.0.1.2 onnxruntime==${ONNXRUNTIME_VERSION} \
    && python -c "import glob, os, shutil, sysconfig; sp = sysconfig.get_paths()['purelib']; os.makedirs('/out', exist_ok=True); [shutil.copy(f, '/out/') for f in [sp + '/openslide_bin/libopenslide.so.1'] + glob.glob(sp + '/onnxruntime/capi/libonnxruntime.so*')]"

FROM ${PYTHON_IMAGE} AS gpu-libraries
ARG CUDA
# onnxruntime-gpu's extras name the CUDA runtime, cuBLAS, cuFFT, cuRAND, NVRTC and cuDNN 9 of
# its CUDA major version. Only what ONNX Runtime's CUDA provider loads is kept (no NVBLAS,
# cuFFTW, the NVRTC "alt" builds, the TensorRT provider or the Python binding), and the
# libraries get the names the gpu stage's variables use whatever the versions.
RUN case "${CUDA}" in 12) ort=1.23.2 ;; 13) ort=1.31.1 ;; *) echo "CUDA=${CUDA}: 12 or 13" >&2; exit 2 ;; esac \
    && pip install --no-cache-dir "onnxruntime-gpu[cuda,cudnn]==${ort}" \
    && python -c "import glob, os, shutil, sysconfig; sp = sysconfig.get_paths()['purelib']; [os.makedirs(d, exist_ok=True) for d in ('/out/onnxruntime', '/out/cuda')]; [shutil.copy(f, '/out/onnxruntime/') for f in glob.glob(sp + '/onnxruntime/capi/libonnxruntime*.so*') if 'tensorrt' not in f]; [shutil.copy(f, '/out/cuda/') for f in glob.glob(sp + '/nvidia/**/lib/lib*.so*', recursive=True) if not any(s in os.path.basename(f) for s in ('nvblas', 'cufftw', '.alt.'))]" \
    && ln -s "libonnxruntime.so.${ort}" /out/onnxruntime/libonnxruntime.so.1 \
    && ln -s "libcublas.so.${CUDA}" /out/cuda/libcublas.so

FROM ${RUNTIME_IMAGE} AS gpu
ARG CUDA
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libspng0 libturbojpeg0 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 mhs \
    && mkdir -p /output \
    && chown mhs /output
COPY --from=libraries /out/libopenslide.so.1 /usr/local/lib/mhs/libopenslide.so.1
COPY --from=gpu-libraries /out/onnxruntime /usr/local/lib/mhs/onnxruntime
COPY --from=gpu-libraries /out/cuda /usr/local/lib/mhs/cuda
COPY --from=build /usr/local/bin/mhs /usr/local/bin/mhs
# The commit last: a new one changes the image's metadata and one tiny layer, not the rest.
ARG MHS_COMMIT
# The binary runs on this base. Run with the commit, this step also keeps a builder's layer
# cache from handing the label and variables below a previous commit's value (podman 4.3 does
# not compare build arguments for LABEL and ENV).
RUN MHS_COMMIT="${MHS_COMMIT}" mhs --version
LABEL org.opencontainers.image.title="mhs" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.revision="${MHS_COMMIT}"
# NVIDIA_* tell the container toolkit to mount the driver's compute libraries and nvidia-smi.
ENV MHS_OPENSLIDE_LIB=/usr/local/lib/mhs/libopenslide.so.1 \
    MHS_ONNXRUNTIME_LIB=/usr/local/lib/mhs/onnxruntime/libonnxruntime.so.1 \
    MHS_CUBLAS_LIB=/usr/local/lib/mhs/cuda/libcublas.so \
    MHS_CUDA_VERSION=${CUDA}.0 \
    LD_LIBRARY_PATH=/usr/local/lib/mhs/cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    MHS_OUTPUT_DIR=/output \
    MHS_WORK_DIR=/tmp \
    MHS_COMMIT=${MHS_COMMIT}
USER 10001
ENTRYPOINT ["mhs", "run"]

FROM ${RUNTIME_IMAGE} AS cpu
ARG ONNXRUNTIME_VERSION
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libspng0 libturbojpeg0 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 mhs \
    && mkdir -p /output \
    && chown mhs /output
COPY --from=libraries /out/ /usr/local/lib/mhs/
COPY --from=build /usr/local/bin/mhs /usr/local/bin/mhs
ARG MHS_COMMIT
# The binary runs on this base. Run with the commit, this step also keeps a builder's layer
# cache from handing the label and variables below a previous commit's value (podman 4.3 does
# not compare build arguments for LABEL and ENV).
RUN MHS_COMMIT="${MHS_COMMIT}" mhs --version
LABEL org.opencontainers.image.title="mhs" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.revision="${MHS_COMMIT}"
ENV MHS_OPENSLIDE_LIB=/usr/local/lib/mhs/libopenslide.so.1 \
    MHS_ONNXRUNTIME_LIB=/usr/local/lib/mhs/libonnxruntime.so.${ONNXRUNTIME_VERSION} \
    MHS_OUTPUT_DIR=/output \
    MHS_WORK_DIR=/tmp \
    MHS_COMMIT=${MHS_COMMIT}
USER 10001
ENTRYPOINT ["mhs", "run"]
