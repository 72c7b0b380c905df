"""The Hugging Face transformers flavor: ``save_model``, ``log_model``, ``load_model`` and the pyfunc loader,
in MLflow 2.x's format::

    model/
      MLmodel       transformers: {task, instance_type, framework, torch_dtype, pipeline_model_type,
                                   source_model_name, model_binary: model, components: [tokenizer],
                                   tokenizer_type, transformers_version, code}
                    python_function: {loader_module: mlflow.transformers, config: <model_config>}
      model/        the model's save_pretrained (config.json, model.safetensors, ...)
      components/   tokenizer/, feature_extractor/, image_processor/, processor/ (save_pretrained each)
      LICENSE.txt   (and model_card.md, model_card_data.yaml when a model card is known)

A pipeline, or a dict of its parts (``{"model": ..., "tokenizer": ...}`` with ``task=``) is saved; it loads
back as a pipeline (``return_type="pipeline"``) or as that dict (``return_type="components"``). Text
pipelines load through pyfunc (see :mod:`.wrapper`). Not supported (an error says so): MLflow's LLM
inference tasks (``task="llm/v1/..."``), PEFT adapters, models with custom code, and a checkpoint
directory as ``transformers_model``.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from fluvial._internal.lazy import require
from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.flavors.transformers.wrapper import TransformersWrapper, default_signature
from fluvial.models.flavor import default_requirements, load_flavor_dir, log_flavor_model, new_model_dir
from fluvial.models.model import Model, ModelInfo, flavor_conf
from fluvial.models.saving import add_to_model

FLAVOR_NAME = "transformers"
LOADER_MODULE = "mlflow.transformers"  # MLflow's name, so MLflow loads what fluvial saves
MODEL_BINARY = "model"
COMPONENTS_DIR = "components"
PROCESSOR = "processor"
INFERENCE_CONFIG_FILE = "inference_config.txt"
COMPONENT_NAMES = ("feature_extractor", "tokenizer", "image_processor")
_AUTO_CLASS = {"tokenizer": "AutoTokenizer", "feature_extractor": "AutoFeatureExtractor",
               "processor": "AutoProcessor", "image_processor": "AutoImageProcessor"}
# pipelines MLflow does not load as pyfunc (images, video, documents)
_NO_PYFUNC = {"DocumentQuestionAnsweringPipeline", "ImageToTextPipeline", "VisualQuestionAnsweringPipeline",
              "ImageSegmentationPipeline", "DepthEstimationPipeline", "ObjectDetectionPipeline",
              "VideoClassificationPipeline", "ZeroShotImageClassificationPipeline",
              "ZeroShotObjectDetectionPipeline", "ZeroShotAudioClassificationPipeline"}
_PROMPT_TASKS = {"feature-extraction", "fill-mask", "summarization", "text2text-generation", "text-generation"}
_logger = logging.getLogger(__name__)


def _require() -> Any:
    return require("transformers")


def _major(version: str) -> int:
    return int(version.split(".")[0])


def get_default_pip_requirements(model: Any = None) -> list[str]:
    """``transformers`` and the engine of ``model`` (torch, with accelerate/torchvision when installed)."""
    import importlib.util

    optional = [p for p in ("torchvision", "accelerate") if importlib.util.find_spec(p)]
    return default_requirements("transformers", "torch", *optional)


def _type_name(obj: Any) -> str:
    """The class name MLflow records. transformers 5 names its generic fast tokenizer ``TokenizersBackend``
    and keeps ``PreTrainedTokenizerFast`` as its alias: the alias is recorded, which transformers 4 has."""
    import transformers

    name = type(obj).__name__
    if name == "TokenizersBackend" and getattr(transformers, "PreTrainedTokenizerFast", None) is type(obj):
        return "PreTrainedTokenizerFast"
    return name


def _as_pipeline(transformers_model: Any, task: str | None) -> Any:
    transformers = _require()

    if isinstance(transformers_model, transformers.Pipeline):
        return transformers_model
    if isinstance(transformers_model, dict):
        unknown = set(transformers_model) - {"model", "tokenizer", "feature_extractor", "image_processor",
                                             "torch_dtype"}
        if "model" not in transformers_model or unknown:
            raise InvalidParameterValue(
                "A dict given as transformers_model needs a 'model' and may have 'tokenizer', "
                f"'feature_extractor', 'image_processor' and 'torch_dtype' (got {sorted(transformers_model)}).")
        if task is None:
            raise InvalidParameterValue(
                "Give task= (e.g. task='text-classification') when transformers_model is a dict of components: "
                "fluvial does not look the task up on the Hugging Face Hub.")
        return _pipeline(transformers, task, dict(transformers_model))
    if isinstance(transformers_model, str):
        raise InvalidParameterValue(
            "A checkpoint directory as transformers_model is not supported by fluvial; load it with "
            "transformers.pipeline(task, model=path) and save that pipeline.")
    raise InvalidParameterValue(
        "transformers_model must be a transformers Pipeline or a dict of its components, "
        f"got {type(transformers_model).__name__}")


def _pipeline(transformers: Any, task: str, parts: dict[str, Any]) -> Any:
    try:
        return transformers.pipeline(task=task, **parts)
    except KeyError as exc:
        raise MlflowException(
            f"transformers {transformers.__version__} has no {task!r} pipeline ({exc}). Install a transformers "
            "that has it (e.g. pip install 'transformers<5'), or load the parts with return_type='components'."
        ) from None


def _flavor_config(pipeline: Any, processor: Any, torch_dtype: Any) -> dict[str, Any]:
    import torch

    conf: dict[str, Any] = {"task": pipeline.task, "instance_type": type(pipeline).__name__}
    framework = getattr(pipeline, "framework", None) or "pt"  # transformers 5 is PyTorch only
    conf["framework"] = framework
    dtype = torch_dtype or getattr(pipeline.model, "dtype", None)
    if isinstance(dtype, torch.dtype):
        conf["torch_dtype"] = str(dtype)
    model = pipeline.model
    conf["pipeline_model_type"] = type(model).__name__
    conf["source_model_name"] = model.name_or_path
    conf["model_binary"] = MODEL_BINARY
    components = [name for name in COMPONENT_NAMES if getattr(pipeline, name, None)]
    for name in components:
        conf[f"{name}_type"] = _type_name(getattr(pipeline, name))
    if processor is not None:
        conf[f"{PROCESSOR}_type"] = _type_name(processor)
    conf["components"] = components
    return conf


def save_model(
    transformers_model: Any,
    path: str,
    processor: Any = None,
    task: str | None = None,
    torch_dtype: Any = None,
    model_card: Any = None,
    inference_config: dict[str, Any] | None = None,
    code_paths: list[str] | None = None,
    mlflow_model: Model | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    conda_env: Any = None,
    metadata: dict[str, Any] | None = None,
    model_config: dict[str, Any] | None = None,
    example_no_conversion: bool | None = None,
    prompt_template: str | None = None,
    save_pretrained: bool = True,
) -> None:
    """Save a pipeline (or a dict of its parts with ``task=``) in MLflow's transformers format."""
    transformers = _require()
    del example_no_conversion  # deprecated in MLflow 2.16 and without effect there too
    if task and task.startswith("llm/v1"):
        raise InvalidParameterValue(f"MLflow's LLM inference task {task!r} is not supported by fluvial.")
    if not save_pretrained:
        raise InvalidParameterValue(
            "save_pretrained=False (a reference to the Hugging Face Hub instead of the weights) is not supported "
            "by fluvial: the weights are always saved.")
    pipeline = _as_pipeline(transformers_model, task)
    if type(pipeline.model).__name__.startswith("PeftModel"):
        raise InvalidParameterValue("PEFT models are not supported by fluvial's transformers flavor.")
    if prompt_template is not None:
        if pipeline.task not in _PROMPT_TASKS:
            raise MlflowException(f"Prompt templating is not supported for the `{pipeline.task}` task type. "
                                  f"Supported task types are: {sorted(_PROMPT_TASKS)}.")
        if not isinstance(prompt_template, str) or "{prompt}" not in prompt_template:
            raise InvalidParameterValue("prompt_template must be a string with a {prompt} placeholder.")
        metadata = {**(metadata or {}), "prompt_template": prompt_template}
    conf = _flavor_config(pipeline, processor, torch_dtype)
    with new_model_dir(path, mlflow_model, code_paths) as target:
        pipeline.model.save_pretrained(target.file(MODEL_BINARY))
        for name in conf["components"]:
            getattr(pipeline, name).save_pretrained(target.file(os.path.join(COMPONENTS_DIR, name)))
        if processor is not None:
            processor.save_pretrained(target.file(os.path.join(COMPONENTS_DIR, PROCESSOR)))
        if inference_config:
            _logger.warning("inference_config is deprecated (as in MLflow); use model_config instead.")
            with open(target.file(INFERENCE_CONFIG_FILE), "w") as f:
                json.dump(inference_config, f, indent=2)
        _write_card(target.path, model_card, pipeline.model.name_or_path)
        target.model.add_flavor(FLAVOR_NAME, transformers_version=transformers.__version__, code=target.code, **conf)
        pyfunc = processor is None and type(pipeline).__name__ not in _NO_PYFUNC
        wrapper = None
        if pyfunc:
            if prompt_template is not None and pipeline.task == "text-generation":
                model_config = {"return_full_text": False, **(model_config or {})}
            add_to_model(target.model, LOADER_MODULE, code=target.code, model_config=model_config)
            wrapper = TransformersWrapper(pipeline, conf, model_config or inference_config, prompt_template)
            if signature is None and input_example is None:
                signature = default_signature(pipeline.task)
        else:
            _logger.warning("This model cannot be used for pyfunc prediction (%s); no pyfunc flavor is added.",
                            "it was saved with a processor" if processor is not None else "its pipeline takes images")
        target.finish(
            signature=signature, input_example=input_example, predict=wrapper.predict if wrapper else None,
            default_pip_requirements=get_default_pip_requirements(pipeline.model), pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, conda_env=conda_env, metadata=metadata,
        )


def _write_card(path: str, model_card: Any, model_name: str) -> None:
    """The model card (given, or the Hub's for a Hub model name) and a LICENSE.txt, as MLflow writes them."""
    import yaml

    card = model_card
    if card is None and model_name and not os.path.isdir(model_name):
        try:
            import huggingface_hub

            card = huggingface_hub.ModelCard.load(model_name)
        except Exception as exc:
            _logger.warning("The model card could not be retrieved from the Hub: %s", exc)
    if card is not None:
        with open(os.path.join(path, "model_card.md"), "w", encoding="utf-8") as f:
            f.write(card.text)
        with open(os.path.join(path, "model_card_data.yaml"), "w", encoding="utf-8") as f:
            yaml.safe_dump(card.data.to_dict(), f, default_flow_style=False)
    text = (f"No license file was found for the model {model_name!r}. Check the terms of use of the model "
            f"at https://huggingface.co/{model_name} before using it.")
    license_type = getattr(getattr(card, "data", None), "license", None)
    if license_type and license_type != "other":
        text += f"\nThe declared license type is: '{license_type}'"
    with open(os.path.join(path, "LICENSE.txt"), "w", encoding="utf-8") as f:
        f.write(text)


def log_model(
    transformers_model: Any,
    artifact_path: str | None = None,
    processor: Any = None,
    task: str | None = None,
    torch_dtype: Any = None,
    model_card: Any = None,
    inference_config: dict[str, Any] | None = None,
    code_paths: list[str] | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    conda_env: Any = None,
    metadata: dict[str, Any] | None = None,
    model_config: dict[str, Any] | None = None,
    example_no_conversion: bool | None = None,
    prompt_template: str | None = None,
    save_pretrained: bool = True,
    name: str | None = None,
) -> ModelInfo:
    """Log a transformers pipeline (or a dict of its parts) as artifacts of the active run."""
    return log_flavor_model(
        __name__, artifact_path, name=name, registered_model_name=registered_model_name,
        await_registration_for=await_registration_for, metadata=metadata, transformers_model=transformers_model,
        processor=processor, task=task, torch_dtype=torch_dtype, model_card=model_card,
        inference_config=inference_config, code_paths=code_paths, signature=signature, input_example=input_example,
        pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements, conda_env=conda_env,
        model_config=model_config, example_no_conversion=example_no_conversion, prompt_template=prompt_template,
        save_pretrained=save_pretrained,
    )


def _class(transformers: Any, name: str, auto: str) -> Any:
    cls = getattr(transformers, name, None)
    if cls is None:
        if name == "TokenizersBackend" or auto == "AutoTokenizer":
            return transformers.AutoTokenizer
        raise MlflowException(f"transformers {transformers.__version__} has no class {name!r} (models with custom "
                              "code are not supported by fluvial).")
    return cls


def _load(path: str, conf: dict[str, Any], return_type: str, device: Any = None, **kwargs: Any) -> Any:
    transformers = _require()
    if "source_model_revision" in conf:
        raise MlflowException("This model was saved without its weights (save_pretrained=False): they are on the "
                              "Hugging Face Hub, which fluvial does not download from.")
    if conf.get("peft_adaptor"):
        raise MlflowException("This model holds a PEFT adapter, which fluvial's transformers flavor does not load.")
    load_kwargs: dict[str, Any] = {}
    dtype = kwargs.pop("torch_dtype", None) or conf.get("torch_dtype")
    if dtype is not None:
        import torch

        if isinstance(dtype, str):
            dtype = getattr(torch, dtype.removeprefix("torch."), None)
            if not isinstance(dtype, torch.dtype):
                raise InvalidParameterValue(f"The value {conf.get('torch_dtype')!r} is not a valid torch.dtype")
        load_kwargs["dtype" if _major(transformers.__version__) >= 5 else "torch_dtype"] = dtype
    model_cls = _class(transformers, conf["pipeline_model_type"], "AutoModel")
    model = model_cls.from_pretrained(os.path.join(path, conf.get("model_binary", "pipeline")), **load_kwargs)
    parts: dict[str, Any] = {"model": model}
    names = list(conf.get("components", [])) + ([PROCESSOR] if f"{PROCESSOR}_type" in conf else [])
    for name in names:
        cls = _class(transformers, conf[f"{name}_type"], _AUTO_CLASS[name])
        parts[name] = cls.from_pretrained(os.path.join(path, COMPONENTS_DIR, name))
    base: dict[str, Any] = {"task": conf["task"]}
    if device is not None:
        base["device"] = device
    if return_type == "components":
        if conf.get("framework") and _major(transformers.__version__) < 5:
            base["framework"] = conf["framework"]
        return {**base, **load_kwargs, **parts}
    if _major(transformers.__version__) < 5 and conf.get("framework"):
        base["framework"] = conf["framework"]
    return _pipeline(transformers, conf["task"], {**{k: v for k, v in base.items() if k != "task"}, **parts,
                                                  **load_kwargs, **kwargs})


def load_model(model_uri: str, dst_path: str | None = None, return_type: str = "pipeline", device: Any = None,
               **kwargs: Any) -> Any:
    """The saved pipeline (``return_type="pipeline"``) or a dict of its parts (``"components"``)."""
    if return_type not in ("pipeline", "components"):
        raise InvalidParameterValue(f"The specified return_type mode {return_type!r} is unsupported. "
                                    "Please select one of: 'pipeline' or 'components'.")
    model_dir, conf = load_flavor_dir(model_uri, FLAVOR_NAME, dst_path)
    if return_type == "pipeline" and f"{PROCESSOR}_type" in conf:
        raise MlflowException("This model has been saved with a processor. Processor objects are not compatible "
                              "with Pipelines. Please load this model by specifying the 'return_type'='components'.",
                              error_code="BAD_REQUEST")
    return _load(model_dir, dict(conf), return_type, device, **kwargs)


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> TransformersWrapper:
    """The pyfunc loader (``loader_module: mlflow.transformers``); ``path`` is the model directory."""
    model_dir, conf = flavor_conf(path, FLAVOR_NAME)
    meta = Model.load(model_dir)
    # pyfunc.load_model hands over the saved config with its overrides applied (MLflow's rule)
    if model_config is None:
        model_config = dict(meta.flavors.get("python_function", {}).get("config") or {})
    old_config = os.path.join(model_dir, COMPONENTS_DIR, INFERENCE_CONFIG_FILE)  # where MLflow looks for it
    if os.path.exists(old_config):
        with open(old_config) as f:
            model_config = json.load(f)
    template = (meta.metadata or {}).get("prompt_template")
    return TransformersWrapper(_load(model_dir, dict(conf), "pipeline"), dict(conf), model_config, template)
