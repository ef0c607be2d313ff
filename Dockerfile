# The tracking app on port 7860, CPU only (the image a Hugging Face Space or a server runs):
#   docker build -t sam2-tracker .
#   docker run -p 7860:7860 -v sam2-hub:/home/user/.cache/huggingface sam2-tracker
# Weights: downloaded from the Hugging Face Hub on first use into the hub cache (keep it on a
# volume, as above, so a new container does not download them again), or mount a folder with
# e.g. sam2.1_hiera_tiny.pt: -v $PWD/checkpoints:/home/user/app/checkpoints:ro
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# Spaces run containers as uid 1000; so does this image.
RUN useradd --create-home --uid 1000 user
USER user
ENV HOME=/home/user PATH=/home/user/.local/bin:$PATH HF_HOME=/home/user/.cache/huggingface
WORKDIR /home/user/app

# torch from the CPU index, at the versions the tests run with (the default index would
# bring the CUDA wheels); then the rest, which finds torch already there.
RUN pip install --no-cache-dir --user --index-url https://download.pytorch.org/whl/cpu \
    torch==2.14.1 torchvision==0.29.1
COPY --chown=user requirements.txt .
RUN pip install --no-cache-dir --user -r requirements.txt

COPY --chown=user sam2 sam2
COPY --chown=user tracker tracker
COPY --chown=user assets assets
COPY --chown=user checkpoints/README.md checkpoints/README.md
COPY --chown=user app.py .
RUN mkdir -p "$HF_HOME"
VOLUME ["/home/user/.cache/huggingface"]

ENV SAM2_HOST=0.0.0.0 SAM2_PORT=7860 GRADIO_ANALYTICS_ENABLED=False
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=5)"
CMD ["python", "app.py"]
