"""Tiny Hugging Face models built from a config (no downloads), for the transformers and
sentence-transformers tests. Plain code with no fluvial or pytest imports: the compat tests run it
in MLflow's virtualenv too (transformers 4 there, 5 in fluvial's)."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

WORDS = ["the", "a", "cat", "dog", "sat", "on", "mat", "good", "bad", "movie", "is", "was", "great",
         "awful", "i", "liked", "it"]
TEXT_TASKS = ["text-classification", "text-generation", "fill-mask", "feature-extraction"]
# transformers 5 removed these pipelines; they are tested where transformers 4 is installed
SEQ2SEQ_TASKS = ["summarization", "text2text-generation"]


def example(task: str) -> str:
    return "the cat sat on the [MASK]" if task == "fill-mask" else "the cat sat on the mat"


def tiny_tokenizer() -> Any:
    """A word-level fast tokenizer over ``WORDS`` with BERT's special tokens."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {t: i for i, t in enumerate(specials + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", bos_token="[CLS]", eos_token="[SEP]", model_max_length=32)


def tiny_model(task: str, vocab_size: int) -> Any:
    import torch
    import transformers

    torch.manual_seed(0)
    bert = dict(vocab_size=vocab_size, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=16, max_position_embeddings=32, pad_token_id=0)
    if task == "text-classification":
        model = transformers.BertForSequenceClassification(transformers.BertConfig(
            **bert, num_labels=2, id2label={0: "NEG", 1: "POS"}, label2id={"NEG": 0, "POS": 1}))
    elif task == "fill-mask":
        model = transformers.BertForMaskedLM(transformers.BertConfig(**bert))
    elif task == "feature-extraction":
        model = transformers.BertModel(transformers.BertConfig(**bert))
    elif task == "text-generation":
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
            vocab_size=vocab_size, n_embd=8, n_layer=1, n_head=2, n_positions=32, bos_token_id=2,
            eos_token_id=3, pad_token_id=0))
    else:
        model = transformers.T5ForConditionalGeneration(transformers.T5Config(
            vocab_size=vocab_size, d_model=8, d_ff=16, d_kv=4, num_layers=1, num_heads=2,
            decoder_start_token_id=0, pad_token_id=0, eos_token_id=3))
    model.eval()
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.max_new_tokens = 4
        model.generation_config.do_sample = False
    return model


def tiny_pipeline(task: str) -> Any:
    import transformers

    tok = tiny_tokenizer()
    return transformers.pipeline(task, model=tiny_model(task, len(tok)), tokenizer=tok)


def plain(value: Any) -> Any:
    """A prediction as JSON-able data (DataFrames as records, arrays as lists)."""
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if isinstance(value, np.ndarray):
        return value.astype(float).tolist()
    return value


def model_config(task: str) -> dict[str, Any] | None:
    """Greedy decoding for the generating tasks: transformers 5 samples by default where a saved
    generation config does not say ``do_sample: false`` (transformers 4 writes no such key)."""
    return {"do_sample": False, "max_new_tokens": 4} if task not in TEXT_TASKS or task == "text-generation" else None


def call(pipe: Any, task: str, x: Any) -> Any:
    return pipe(x, **(model_config(task) or {}))


def tiny_sentence_transformer() -> Any:
    """A SentenceTransformer over a tiny BERT (mean pooling), built in a temporary directory."""
    import tempfile

    import sentence_transformers
    from sentence_transformers import models

    tok = tiny_tokenizer()
    bert = tiny_model("feature-extraction", len(tok))
    folder = tempfile.mkdtemp(prefix="tiny-st-")
    bert.save_pretrained(folder)
    tok.save_pretrained(folder)
    word = models.Transformer(folder, max_seq_length=16)
    pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    return sentence_transformers.SentenceTransformer(modules=[word, pool], device="cpu")
