"""A tiny Grounding DINO with random weights, saved as the Hub holds one (config, safetensors,
tokenizer, processor), in a folder or in a Hugging Face cache under the default detector's id,
so that tests run transformers' real loading code without a network."""

from pathlib import Path

import torch

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "a", "the", "dog", "person", "ball", "red",
              "blue", "cat", "car"]
REVISION = "fedcba9876543210fedcba9876543210fedcba98"


def save_tiny_grounding_dino(folder: Path) -> Path:
    """A 0.4M-parameter Grounding DINO (Swin and BERT of one layer each) in ``folder``."""
    import transformers
    from transformers import (BertConfig, BertTokenizerFast, GroundingDinoConfig, GroundingDinoForObjectDetection,
                              GroundingDinoImageProcessor, GroundingDinoProcessor, SwinConfig)

    torch.manual_seed(0)
    backbone = SwinConfig(image_size=224, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                          window_size=7, out_features=["stage2", "stage3", "stage4"])
    text = BertConfig(vocab_size=len(VOCABULARY), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=37, max_position_embeddings=64)
    config = GroundingDinoConfig(
        backbone_config=backbone, text_config=text, d_model=32, encoder_layers=1, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_queries=20,
        num_feature_levels=4, encoder_n_points=2, decoder_n_points=2, max_text_len=32, use_timm_backbone=False,
    )
    folder.mkdir(parents=True, exist_ok=True)
    GroundingDinoForObjectDetection(config).save_pretrained(folder)
    vocabulary = {word: index for index, word in enumerate(VOCABULARY)}
    if int(transformers.__version__.split(".")[0]) >= 5:
        tokenizer = BertTokenizerFast(vocab=vocabulary)
    else:
        (folder / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
        tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    images = GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96})
    GroundingDinoProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def put_in_hub_cache(hub_cache: Path, model_id: str, source: Path) -> Path:
    """Copy the files of ``source`` into ``hub_cache`` as the Hub's cache keeps ``model_id``."""
    repo = hub_cache / ("models--" + model_id.replace("/", "--"))
    snapshot = repo / "snapshots" / REVISION
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(REVISION)
    for path in source.iterdir():
        (snapshot / path.name).write_bytes(path.read_bytes())
    return snapshot


def save_tiny_owlv2(folder: Path) -> Path:
    """A tiny OWLv2 (one-layer CLIP text and vision towers, 64 px) in ``folder``: a detector
    that scores each phrase as a query of its own and pads frames to a square."""
    from transformers import CLIPTokenizerFast, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor, Owlv2Processor

    torch.manual_seed(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["<|startoftext|>", "<|endoftext|>", *(c + "</w>" for c in letters), *letters, "dog</w>", "ball</w>", "do",
             "ba", "bal"]
    merges = [("d", "o"), ("do", "g</w>"), ("b", "a"), ("ba", "l"), ("bal", "l</w>")]
    tokenizer = CLIPTokenizerFast(vocab={word: index for index, word in enumerate(words)}, merges=merges)
    layers = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2)
    config = Owlv2Config(text_config=dict(vocab_size=len(words), max_position_embeddings=16, **layers),
                         vision_config=dict(image_size=64, patch_size=16, **layers), projection_dim=32)
    folder.mkdir(parents=True, exist_ok=True)
    Owlv2ForObjectDetection(config).save_pretrained(folder)
    Owlv2Processor(image_processor=Owlv2ImageProcessor(size={"height": 64, "width": 64}),
                   tokenizer=tokenizer).save_pretrained(folder)
    return folder
