"""Plain data objects. They know nothing of JSON, SQL or HTTP."""

from fluvial.entities.dataset import Dataset, DatasetInput, InputTag
from fluvial.entities.enums import LifecycleStage, ModelVersionStatus, RunStatus, SourceType, ViewType
from fluvial.entities.experiment import Experiment, ExperimentTag
from fluvial.entities.file_info import FileInfo
from fluvial.entities.metric import Metric, Param, RunTag
from fluvial.entities.paged import PagedList
from fluvial.entities.registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from fluvial.entities.run import Run, RunData, RunInfo, RunInputs

__all__ = [
    "Dataset",
    "DatasetInput",
    "Experiment",
    "ExperimentTag",
    "FileInfo",
    "InputTag",
    "LifecycleStage",
    "Metric",
    "ModelVersion",
    "ModelVersionStatus",
    "ModelVersionTag",
    "PagedList",
    "Param",
    "RegisteredModel",
    "RegisteredModelAlias",
    "RegisteredModelTag",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunStatus",
    "RunTag",
    "SourceType",
    "ViewType",
]
