"""Frame input: JPEG folders, arrays and video files, decoded on demand, HDR shown as SDR."""
