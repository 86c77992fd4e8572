# maesi: the Streamlit lab on port 8501.
#   CPU (default):  docker build -t maesi . && docker run -p 8501:8501 maesi
#   CUDA:           docker build -t maesi-gpu \
#                     --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 \
#                     --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
#                   docker run --gpus all -p 8501:8501 maesi-gpu
# Datasets: mount a folder laid out like shared/data and point MAESI_DATA at it:
#   docker run -p 8501:8501 -v /path/to/data:/data:ro -e MAESI_DATA=/data maesi
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# CUDA base images are plain Ubuntu: bring a Python with venv.
RUN if ! command -v python3 >/dev/null || ! python3 -m venv --help >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends python3 python3-venv && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /opt/maesi
COPY requirements.txt .
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --extra-index-url "${TORCH_INDEX}" -r requirements.txt
ENV PATH=/opt/venv/bin:$PATH
COPY core ./core
COPY app ./app
COPY checkpoints ./checkpoints
COPY scripts ./scripts
# the committed reports, for the lab's Paper claims page (their caches stay out: .dockerignore)
COPY results ./results
RUN useradd --create-home maesi
USER maesi
EXPOSE 8501
HEALTHCHECK CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["python", "-m", "app", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
