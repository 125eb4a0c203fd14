"""FSDP pieces shared by end-to-end training (training/members.py) and the torchrun entry point
(training/distributed.py); no project imports here."""

from __future__ import annotations

import torch
from torch import nn


def shard(model: nn.Module) -> None:
    """FSDP over `model` (training.end_to_end.EndToEnd): each decoder / encoder layer is its own unit, the
    rest (embeddings, final norm, heads) the root's."""
    from torch.distributed.fsdp import fully_shard

    for layer in _layers(model):
        fully_shard(layer)
    fully_shard(model)


def _layers(model: nn.Module) -> list[nn.Module]:
    """The repeated blocks of a transformer (`layers` of decoders, `encoder.layer` of BERT-likes)."""
    for name, child in model.named_modules():
        if isinstance(child, nn.ModuleList) and (name.endswith(".layers") or name.endswith("encoder.layer")):
            return list(child)
    return []


def init_process_group() -> torch.device:
    """NCCL on GPUs (one per local rank), gloo on CPUs."""
    import torch.distributed as dist

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(dist.get_node_local_rank(fallback_rank=0))  # torchrun's LOCAL_RANK
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
