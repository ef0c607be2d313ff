# The tracking app on port 7860: docker build -t sam2-tracker . && docker run -p 7860:7860 sam2-tracker
# Weights: mount a folder with e.g. sam2.1_hiera_tiny.pt at /app/checkpoints, or let the app
# download them from the Hugging Face Hub on first start.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

COPY sam2 sam2
COPY tracker tracker
COPY assets assets
COPY checkpoints/README.md checkpoints/README.md
COPY app.py .

ENV SAM2_HOST=0.0.0.0 SAM2_PORT=7860 GRADIO_ANALYTICS_ENABLED=False
EXPOSE 7860
CMD ["python", "app.py"]
