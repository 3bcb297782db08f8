"""The l2s bundle format, version 1 (docs/bundle.md is the contract): writing, fingerprinting, loading with
validation. A bundle is a directory with l2s.json, an LLM checkpoint (only its T5 encoder is used), an SLM
checkpoint and projector.safetensors."""
import hashlib
import json
import pathlib
import shutil

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from checkpoints import KINDS, load_hf_model, load_llm_encoder, model_type
from data import text_tokenizer
from model import PROJECTOR_PLACEMENTS, WIRE_DTYPES, ConditionedSLM, Projector

FORMAT, FORMAT_VERSION = "l2s-bundle", 1
MANIFEST = "l2s.json"
PROJECTOR_TENSORS = ("in_proj.weight", "in_proj.bias", "out_proj.weight", "out_proj.bias")
SPIECE_FILES, BPE_FILES = ["spiece.model"], ["vocab.json", "merges.txt"]
EXPORT_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


class BundleError(Exception):
    """A bundle that does not satisfy docs/bundle.md; the message says what, where, expected and actual."""


def sha256_files(paths: list) -> str:
    """SHA-256 hex of the files' bytes concatenated in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def weights_fingerprint(directory: pathlib.Path) -> str:
    """SHA-256 over the bytes of the directory's *.safetensors files, in sorted (byte-wise) file-name order."""
    files = sorted(pathlib.Path(directory).glob("*.safetensors"), key=lambda p: p.name.encode())
    if not files:
        raise BundleError(f"{directory}: no *.safetensors file")
    return sha256_files(files)


def tokenizer_files(directory: pathlib.Path) -> list:
    directory = pathlib.Path(directory)
    for names in (SPIECE_FILES, BPE_FILES):
        if all((directory / name).exists() for name in names):
            return names
    raise BundleError(f"{directory}: no tokenizer (expected spiece.model, or vocab.json and merges.txt)")


def model_entry(bundle: pathlib.Path, path: str) -> dict:
    directory = bundle / path
    files = tokenizer_files(directory)
    return {"path": path, "fingerprint": weights_fingerprint(directory), "tokenizer_files": files,
            "tokenizer_fingerprint": sha256_files([directory / name for name in files])}


def save_projector(projector: Projector, path: pathlib.Path, dtype: torch.dtype) -> None:
    state = projector.state_dict()
    save_file({name: state[name].detach().to(dtype).contiguous() for name in PROJECTOR_TENSORS}, str(path),
              metadata={"format": "pt"})


def save_model_dir(model, source: pathlib.Path, target: pathlib.Path, dtype: torch.dtype) -> None:
    """HF save_pretrained in `dtype` plus the tokenizer files of `source`."""
    target.mkdir(parents=True, exist_ok=True)
    model.to(dtype).save_pretrained(target)
    model.to(torch.float32)
    for name in tokenizer_files(source):
        shutil.copyfile(source / name, target / name)


def write_manifest(out: pathlib.Path, llm_path: str, slm_kind: str, d_in: int, d_out: int, prompt_input: str,
                   wire_dtype: str, decoder_start_token_id: int, eos_token_id: int,
                   projector_runs_on: str = "encoder") -> dict:
    """Writes l2s.json for a bundle whose llm/slm directories and projector file already exist."""
    slm = model_entry(out, "slm")
    slm["kind"] = slm_kind
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "llm": model_entry(out, llm_path),
        "slm": slm,
        "projector": {"path": "projector.safetensors", "fingerprint": sha256_files([out / "projector.safetensors"]),
                      "runs_on": projector_runs_on, "d_in": d_in, "d_out": d_out, "activation": "relu"},
        "prompt_input": prompt_input, "wire_dtype": wire_dtype,
        "decoder_start_token_id": decoder_start_token_id, "eos_token_id": eos_token_id,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def require(condition: bool, message: str) -> None:
    if not condition:
        raise BundleError(message)


def field(entry: dict, key: str, kind: type, where: str):
    """entry[key], which must exist and be of type `kind`."""
    require(isinstance(entry, dict) and key in entry, f"{where}: missing field {key!r}")
    value = entry[key]
    require(isinstance(value, kind) and not (kind is int and isinstance(value, bool)),
            f"{where}: field {key!r} is {value!r}, expected {kind.__name__}")
    return value


def read_manifest(bundle: pathlib.Path) -> dict:
    """l2s.json, checked field by field against docs/bundle.md (files and fingerprints included)."""
    bundle = pathlib.Path(bundle)
    path = bundle / MANIFEST
    require(path.exists(), f"{path}: missing")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{path}: not JSON ({error})") from error
    require(isinstance(manifest, dict), f"{path}: expected a JSON object")
    require(manifest.get("format") == FORMAT, f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    require(manifest.get("format_version") == FORMAT_VERSION,
            f"{path}: format_version {manifest.get('format_version')!r}, expected {FORMAT_VERSION}")
    for key in ("llm", "slm"):
        entry = field(manifest, key, dict, str(path))
        for name in ("path", "fingerprint", "tokenizer_fingerprint"):
            field(entry, name, str, f"{path}: {key}")
        field(entry, "tokenizer_files", list, f"{path}: {key}")
        directory = bundle / entry["path"]
        require((directory / "config.json").exists(), f"{path}: {key}.path {entry['path']!r}: no config.json")
        actual = weights_fingerprint(directory)
        require(actual == entry["fingerprint"],
                f"{path}: {key}.fingerprint {entry['fingerprint']}, actual {actual} ({directory})")
        files = [directory / name for name in entry["tokenizer_files"]]
        for file in files:
            require(file.exists(), f"{path}: {key}.tokenizer_files: {file} missing")
        actual = sha256_files(files)
        require(actual == entry["tokenizer_fingerprint"],
                f"{path}: {key}.tokenizer_fingerprint {entry['tokenizer_fingerprint']}, actual {actual}")
    require(model_type(bundle / manifest["llm"]["path"]) == "t5", f"{path}: llm must be a T5 checkpoint")
    family = model_type(bundle / manifest["slm"]["path"])
    require(KINDS[family] == field(manifest["slm"], "kind", str, f"{path}: slm"),
            f"{path}: slm.kind {manifest['slm']['kind']!r}, but the checkpoint is {family} ({KINDS[family]})")
    projector = field(manifest, "projector", dict, str(path))
    for name in ("path", "fingerprint", "runs_on", "activation"):
        field(projector, name, str, f"{path}: projector")
    for name in ("d_in", "d_out"):
        field(projector, name, int, f"{path}: projector")
    for name in ("decoder_start_token_id", "eos_token_id"):
        field(manifest, name, int, str(path))
    file = bundle / projector["path"]
    require(file.exists(), f"{path}: projector.path {projector['path']!r}: missing")
    actual = sha256_files([file])
    require(actual == projector["fingerprint"], f"{path}: projector.fingerprint {projector['fingerprint']}, "
                                                f"actual {actual}")
    require(projector.get("runs_on") in PROJECTOR_PLACEMENTS,
            f"{path}: projector.runs_on {projector.get('runs_on')!r}, expected one of {PROJECTOR_PLACEMENTS}")
    require(projector.get("activation") == "relu", f"{path}: projector.activation {projector.get('activation')!r}")
    require(manifest.get("prompt_input") in ("add", "projection_only"),
            f"{path}: prompt_input {manifest.get('prompt_input')!r}, expected 'add' or 'projection_only'")
    if manifest["prompt_input"] == "add":
        require(manifest["llm"]["tokenizer_fingerprint"] == manifest["slm"]["tokenizer_fingerprint"],
                f"{path}: prompt_input 'add' needs one vocabulary, but llm and slm tokenizer fingerprints differ")
    require(manifest.get("wire_dtype") in WIRE_DTYPES, f"{path}: wire_dtype {manifest.get('wire_dtype')!r}")
    return manifest


def load_projector(file: pathlib.Path, d_in: int, d_out: int) -> Projector:
    projector = Projector(d_in, d_out)
    expected = {"in_proj.weight": (d_out, d_in), "in_proj.bias": (d_out,), "out_proj.weight": (d_out, d_out),
                "out_proj.bias": (d_out,)}
    with safe_open(str(file), framework="pt") as f:
        names = set(f.keys())
        require(names == set(expected), f"{file}: tensors {sorted(names)}, expected {sorted(expected)}")
        state = {}
        for name, shape in expected.items():
            tensor = f.get_tensor(name)
            require(tuple(tensor.shape) == shape, f"{file}: {name} shape {list(tensor.shape)}, expected {list(shape)}")
            state[name] = tensor.to(torch.float32)
    projector.load_state_dict(state)
    return projector.eval()


def load_bundle(bundle: pathlib.Path) -> tuple:
    """(ConditionedSLM in float32 eval mode, prompt tokenizer, answer tokenizer, manifest)."""
    bundle = pathlib.Path(bundle)
    manifest = read_manifest(bundle)
    llm_dir, slm_dir = bundle / manifest["llm"]["path"], bundle / manifest["slm"]["path"]
    llm = load_llm_encoder(llm_dir)
    slm, kind = load_hf_model(slm_dir)
    d_llm, d_slm = llm.config.d_model, slm.get_input_embeddings().embedding_dim
    projector_entry = manifest["projector"]
    require((projector_entry["d_in"], projector_entry["d_out"]) == (d_llm, d_slm),
            f"{bundle / MANIFEST}: projector d_in x d_out {projector_entry['d_in']} x {projector_entry['d_out']}, "
            f"but the LLM has d_model {d_llm} and the SLM {d_slm}")
    vocab = slm.get_input_embeddings().num_embeddings
    for name in ("decoder_start_token_id", "eos_token_id"):
        require(0 <= manifest[name] < vocab, f"{bundle / MANIFEST}: {name} {manifest[name]} outside the SLM "
                                            f"vocabulary [0, {vocab})")
    projector = load_projector(bundle / projector_entry["path"], d_llm, d_slm)
    model = ConditionedSLM(slm, kind, manifest["decoder_start_token_id"], manifest["eos_token_id"], llm, projector,
                           manifest["prompt_input"], manifest["wire_dtype"], projector_entry["runs_on"]).eval()
    return model, text_tokenizer(llm_dir), text_tokenizer(slm_dir), manifest
