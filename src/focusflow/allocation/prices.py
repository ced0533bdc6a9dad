"""Node prices and their CPU/RAM/GPU split, OpenCost-style (allocation layer, pure).

A node's cost for an hour is split into CPU, RAM and GPU shares with the ratios of a default
price sheet (reference ``allocation.md`` section 2): ``ramMultiple = gpus x gpu:ram +
vCPUs x cpu:ram + GiB`` and each resource's share is its term over that multiple. The same sheet
prices nodes that have no billing row (they are flagged ``x_PriceSource = default``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from focusflow.errors import ConfigError

GIB = Decimal(1024**3)


class DefaultPrices(BaseModel):
    """Hourly list prices (OpenCost ``configs/default.json``, "based on GCP us-central1")."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    cpu: Decimal = Field(default=Decimal("0.031611"), gt=0, description="$/vCPU-hour",
                         validation_alias=AliasChoices("CPU", "cpu"))
    ram: Decimal = Field(default=Decimal("0.004237"), gt=0, description="$/GiB-hour",
                         validation_alias=AliasChoices("RAM", "ram"))
    gpu: Decimal = Field(default=Decimal("0.95"), gt=0, description="$/GPU-hour",
                         validation_alias=AliasChoices("GPU", "gpu"))

    @property
    def cpu_to_ram(self) -> Decimal:
        return self.cpu / self.ram

    @property
    def gpu_to_ram(self) -> Decimal:
        return self.gpu / self.ram

    def node_hourly(self, cpus: Decimal, ram_bytes: Decimal, gpus: Decimal) -> Decimal:
        """List price of a node with this capacity for one full hour."""
        return cpus * self.cpu + ram_bytes / GIB * self.ram + gpus * self.gpu


def load_default_prices(path: str | None) -> DefaultPrices:
    """The price sheet in ``path`` (JSON with ``CPU``, ``RAM``, ``GPU`` as OpenCost's
    default.json spells them; strings or numbers), or OpenCost's defaults."""
    if not path:
        return DefaultPrices()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return DefaultPrices.model_validate(
            {k: str(v) for k, v in data.items()} if isinstance(data, dict) else data)
    except OSError as exc:
        raise ConfigError(f"--default-prices {path}: cannot read: {exc}") from exc
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ConfigError(f"--default-prices {path}: expected a JSON object with positive "
                          f"CPU ($/vCPU-h), RAM ($/GiB-h) and GPU ($/GPU-h): {exc}") from exc


def split_node_cost(cost: Decimal, cpus: Decimal, ram_bytes: Decimal, gpus: Decimal,
                    sheet: DefaultPrices) -> tuple[Decimal, Decimal, Decimal]:
    """``cost`` split into (CPU, RAM, GPU) shares that add up to ``cost`` exactly.

    The CPU and GPU shares are the ratio terms of the multiple; RAM takes the remainder, so
    rounding never creates or loses money.
    """
    gpu_term = gpus * sheet.gpu_to_ram
    cpu_term = cpus * sheet.cpu_to_ram
    multiple = gpu_term + cpu_term + ram_bytes / GIB
    if multiple <= 0:
        raise ValueError("a node needs a positive CPU or memory capacity to be priced")
    cpu_share = cost * cpu_term / multiple
    gpu_share = cost * gpu_term / multiple
    return cpu_share, cost - cpu_share - gpu_share, gpu_share


def unit_prices(hourly: Decimal, cpus: Decimal, ram_bytes: Decimal, gpus: Decimal,
                sheet: DefaultPrices) -> tuple[Decimal, Decimal, Decimal]:
    """($/vCPU-h, $/GiB-h, $/GPU-h) of a node whose full hour costs ``hourly``."""
    cpu, ram, gpu = split_node_cost(hourly, cpus, ram_bytes, gpus, sheet)
    return (cpu / cpus if cpus else Decimal(0), ram / (ram_bytes / GIB) if ram_bytes else
            Decimal(0), gpu / gpus if gpus else Decimal(0))
