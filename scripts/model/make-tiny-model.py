#!/usr/bin/python3
"""Writes a tiny but real embedding model in the layout fastembed reads
(<dir>/fast-bge-small-en-v1.5/: model_optimized.onnx, tokenizer.json,
config.json, tokenizer_config.json, special_tokens_map.json), for tests and
offline demos: weights of the real model cannot be downloaded here.

The ONNX graph looks up a 384-dim vector per token (plus a token-type
vector), masks padding, and sums over the sequence; the sum is broadcast to
every position of last_hidden_state, so position 0 (what fastembed reads)
depends on the whole text. Uses Debian's python3-onnx:
    /usr/bin/python3 scripts/model/make-tiny-model.py OUT_DIR
"""
import json
import os
import random
import string
import sys

import onnx
from onnx import TensorProto, helper

DIM = 384
out = os.path.join(sys.argv[1], "fast-bge-small-en-v1.5")
os.makedirs(out, exist_ok=True)

special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
words = ("the a an and or of to in on for with is are was be by this that it as at from order invoice "
         "quick brown fox dog lazy car automobile engine ticket record text doc note search vector").split()
pieces = list(string.ascii_lowercase) + list(string.digits) + list(string.punctuation)
vocab_list = special + words + pieces + ["##" + c for c in string.ascii_lowercase + string.digits]
vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
V = len(vocab)

rng = random.Random(20261124)
table = [rng.gauss(0.0, 1.0) for _ in range(V * DIM)]
types = [rng.gauss(0.0, 0.1) for _ in range(2 * DIM)]

nodes = [
    helper.make_node("Gather", ["emb", "input_ids"], ["tok"]),                 # [b, s, D]
    helper.make_node("Gather", ["type_emb", "token_type_ids"], ["typ"]),       # [b, s, D]
    helper.make_node("Add", ["tok", "typ"], ["e"]),
    helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
    helper.make_node("Unsqueeze", ["maskf", "axis_last"], ["mask3"]),          # [b, s, 1]
    helper.make_node("Mul", ["e", "mask3"], ["masked"]),
    helper.make_node("ReduceSum", ["masked", "axis_seq"], ["summed"], keepdims=1),  # [b, 1, D]
    helper.make_node("Shape", ["e"], ["shape"]),
    helper.make_node("Expand", ["summed", "shape"], ["last_hidden_state"]),    # [b, s, D]
]
graph = helper.make_graph(
    nodes,
    "tiny-embedder",
    [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["batch", "seq"]),
    ],
    [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", DIM])],
    initializer=[
        helper.make_tensor("emb", TensorProto.FLOAT, [V, DIM], table),
        helper.make_tensor("type_emb", TensorProto.FLOAT, [2, DIM], types),
        helper.make_tensor("axis_last", TensorProto.INT64, [1], [-1]),
        helper.make_tensor("axis_seq", TensorProto.INT64, [1], [1]),
    ],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="kameleondb-tests")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(out, "model_optimized.onnx"))

def special_token(i, tok):
    return {"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}

tokenizer = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [special_token(vocab[t], t) for t in special],
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                 {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
        "special_tokens": {
            "[CLS]": {"id": "[CLS]", "ids": [vocab["[CLS]"]], "tokens": ["[CLS]"]},
            "[SEP]": {"id": "[SEP]", "ids": [vocab["[SEP]"]], "tokens": ["[SEP]"]},
        },
    },
    "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab},
}
with open(os.path.join(out, "tokenizer.json"), "w") as f:
    json.dump(tokenizer, f)
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump({"model_type": "bert", "hidden_size": DIM, "pad_token_id": 0, "vocab_size": V}, f)
with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
    json.dump({"model_max_length": 512, "pad_token": "[PAD]", "do_lower_case": True}, f)
with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
    json.dump({"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}, f)
print(out)
