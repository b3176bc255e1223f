"""A fit study as a grid: models x devices x dtypes x stages x budgets, run cell by cell.

A **cell** is one model, one device (or none), one dtype, one stage and one budget; its
result is the stage's arena (and lower bound) and, with a device, the plan placed on the
device's tiers (`placement.place`): does it fit, what spills, how many bytes move per
inference. `Grid.tasks` lists the work: one `Task` per model, dtype, stage and budget, placed
on every device.

The parts live next door: `refs` (the models and devices, named and hashed), `stages` (the
settings and the stages, extensible with `register_stage`) and `task` (a task, its cells and
`run_task`, which runs one anywhere). Their public names are importable from here too.
"""
from __future__ import annotations

from dataclasses import dataclass

from .refs import NO_DEVICE, DeviceRef, ModelRef, expand_devices, expand_models

# their old home, still imported from here: check_dtypes, check_stages (cli), one_line (run), picture_data (html)
from .stages import DEFAULT_STAGES, STAGES, GridSettings, Stage, StageInput, check_dtypes, check_stages, register_stage  # noqa: F401
from .task import Cell, CellKey, Task, TaskResult, one_line, picture_data, run_task  # noqa: F401


@dataclass(frozen=True)
class Grid:
    models: tuple[ModelRef, ...]
    devices: tuple[DeviceRef, ...] = (NO_DEVICE,)
    dtypes: tuple[str, ...] = ("fp32",)
    stages: tuple[str, ...] = DEFAULT_STAGES
    budgets: tuple[int, ...] = ()
    settings: GridSettings = GridSettings()  # noqa: RUF009  (frozen: one shared default is safe)

    def tasks(self) -> list[Task]:
        """Model-major, so that results of one model arrive together; a stage with a fixed
        dtype once per model, a stage using budgets once per budget."""
        from .. import __version__

        out = []
        for m in self.models:
            for dtype in self.dtypes:
                for name in self.stages:
                    stage = STAGES[name]
                    if stage.dtype and (dtype != self.dtypes[0]):
                        continue
                    for budget in (self.budgets if stage.uses_budget else (0,)):
                        out.append(Task(m, stage.dtype or dtype, name, budget, self.devices, self.settings,
                                        __version__))
        return out

    def cell_count(self) -> int:
        return sum(len(t.devices) for t in self.tasks())


__all__ = ["ModelRef", "DeviceRef", "NO_DEVICE", "GridSettings", "Stage", "StageInput", "STAGES", "register_stage",
           "Grid", "Task", "TaskResult", "Cell", "CellKey", "run_task", "expand_models", "expand_devices"]
