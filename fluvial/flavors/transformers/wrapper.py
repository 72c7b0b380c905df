"""The pyfunc side of the transformers flavor: how MLflow 2.x feeds text pipelines and shapes what they
return, so ``pyfunc.load_model(uri).predict(...)`` gives the same values in fluvial and in MLflow.

Inputs: a string, a list of strings, a dict, a list of dicts, or a DataFrame (rows become dicts; a
single unnamed string column becomes a list of strings). Outputs by pipeline:

- text classification: a DataFrame with ``label`` and ``score``;
- text generation, summarization, text2text, translation: a list of strings (the generated text);
- fill-mask: the best token of each input (a list of strings);
- feature extraction: a NumPy array, the first input's token embeddings;
- question answering: the answers; token classification: the entities joined with commas;
- zero-shot classification: a DataFrame of ``sequence``, ``labels``, ``scores``.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from typing import Any, Optional

from fluvial.exceptions import InvalidParameterValue, MlflowException

# task -> (input columns or None for one unnamed string column, output columns: (type, name) pairs)
_Spec = tuple[Optional[list[str]], list[tuple[str, Optional[str]]]]
_TEXT: _Spec = (None, [("string", None)])
_CLASSIFICATION: _Spec = (None, [("string", "label"), ("double", "score")])
DEFAULT_SIGNATURES: dict[str, _Spec] = {
    "token-classification": _TEXT,
    "translation": _TEXT,
    "text-generation": _TEXT,
    "text2text-generation": _TEXT,
    "text-classification": _CLASSIFICATION,
    "fill-mask": _TEXT,
    "summarization": _TEXT,
    "zero-shot-classification": (["sequences", "candidate_labels", "hypothesis_template"],
                                 [("string", "sequence"), ("string", "labels"), ("double", "scores")]),
    "question-answering": (["question", "context"], [("string", None)]),
    "table-question-answering": (["query", "table"], [("string", None)]),
}


def default_signature(task: str | None) -> Any:
    """MLflow's default signature for a pipeline task (None when it has none)."""
    from fluvial.models.schema import ColSpec, Schema, TensorSpec
    from fluvial.models.signature import ModelSignature

    if task and task.startswith("translation_"):
        task = "translation"
    if task == "feature-extraction":
        import numpy as np

        return ModelSignature(Schema([ColSpec("string")]), Schema([TensorSpec(np.dtype("float64"), [-1], "double")]))  # MLflow names it "double"
    if task not in DEFAULT_SIGNATURES:
        return None
    inputs, outputs = DEFAULT_SIGNATURES[task]
    in_schema = Schema([ColSpec("string", name) for name in inputs] if inputs else [ColSpec("string")])
    return ModelSignature(in_schema, Schema([ColSpec(kind, name) for kind, name in outputs]))


class TransformersWrapper:
    """What ``pyfunc.load_model`` returns the predictions of for a transformers model."""

    def __init__(self, pipeline: Any, flavor_config: dict[str, Any] | None = None,
                 model_config: dict[str, Any] | None = None, prompt_template: str | None = None) -> None:
        self.pipeline = pipeline
        self.flavor_config = dict(flavor_config or {})
        self.model_config = dict(model_config or {})
        self.prompt_template = prompt_template

    def get_raw_model(self) -> Any:
        return self.pipeline

    def _is(self, *names: str) -> bool:
        import transformers

        return any(hasattr(transformers, n) and isinstance(self.pipeline, getattr(transformers, n)) for n in names)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd

        config = {**copy.deepcopy(self.model_config), **(params or {})}
        if isinstance(data, pd.DataFrame):
            if self._is("ZeroShotClassificationPipeline"):
                data = _zero_shot_frame_to_dict(data)
            else:
                data = data.to_dict(orient="records")
        elif isinstance(data, list):
            if not all(isinstance(entry, (str, dict)) for entry in data):
                raise InvalidParameterValue(
                    "Invalid data submission. Ensure all elements in the list are strings or dictionaries.")
        elif not isinstance(data, (dict, str, bytes, np.ndarray)):
            raise InvalidParameterValue(
                "Input data must be a pandas.DataFrame, a string, a list of strings, a dict or a list of dicts.")
        return self._predict(self._unpack(data), config)

    def _unpack(self, data: Any) -> Any:
        """DataFrame rows (dicts) back into what the pipeline takes."""
        rows_of_dicts = isinstance(data, list) and bool(data) and all(isinstance(e, dict) for e in data)
        if self._is("FillMaskPipeline", "TextGenerationPipeline", "TranslationPipeline", "SummarizationPipeline",
                    "TokenClassificationPipeline") and rows_of_dicts:
            return [next(iter(entry.values())) for entry in data]
        if self._is("Text2TextGenerationPipeline") and rows_of_dicts and 0 in data[0]:
            return [next(iter(entry.values())) for entry in data]
        if self._is("TextClassificationPipeline"):
            return _text_classification_input(data)
        return data

    def _predict(self, data: Any, config: dict[str, Any]) -> Any:
        import numpy as np
        import pandas as pd

        if self._is("TranslationPipeline"):
            _check_text(data)
            key: Any = "translation_text"
        elif self._is("SummarizationPipeline"):
            _check_text(data)
            data, key = self._template(data), "summary_text"
        elif self._is("Text2TextGenerationPipeline"):
            data, key = self._template(_text2text_input(data)), "generated_text"
        elif self._is("TextGenerationPipeline"):
            _check_text(data)
            data, key = self._template(data), "generated_text"
        elif self._is("QuestionAnsweringPipeline"):
            data, key = _question_answer_input(data), "answer"
        elif self._is("FillMaskPipeline"):
            _check_text(data)
            data, key = self._template(data), "token_str"
        elif self._is("TextClassificationPipeline"):
            key = "label"
        elif self._is("ZeroShotClassificationPipeline"):
            data, key = _json_list(data, "candidate_labels"), "labels"
        elif self._is("TokenClassificationPipeline"):
            key = {"entity_group", "entity"}
        elif self._is("FeatureExtractionPipeline"):
            if isinstance(data, list) and data and isinstance(data[0], dict):
                data = [next(iter(entry.values())) for entry in data]
            data, key = self._template(data), None
        else:
            raise MlflowException(
                f"The loaded pipeline type {type(self.pipeline).__name__} is not enabled for pyfunc predict.",
                error_code="BAD_REQUEST")
        include_prompt = config.pop("include_prompt", True)
        collapse_whitespace = config.pop("collapse_whitespace", False)
        try:
            raw = self.pipeline(**data, **config) if isinstance(data, dict) else self.pipeline(data, **config)
        except ValueError as exc:
            if "The following `model_kwargs` are not used by the model" in str(exc):
                raise InvalidParameterValue(
                    f"The params given to predict are not valid for pipeline {type(self.pipeline).__name__}.") from exc
            raise
        if self._is("TextGenerationPipeline"):
            output: Any = _generated(data, raw, key, include_prompt, collapse_whitespace)
        elif self._is("FeatureExtractionPipeline"):
            return raw if isinstance(raw, np.ndarray) else np.array(raw[0][0])
        elif self._is("FillMaskPipeline"):
            output = _first_of_each(raw, key)
        elif self._is("ZeroShotClassificationPipeline"):
            return _zero_shot_output(raw)
        elif self._is("TokenClassificationPipeline"):
            output = _entities(raw, key)
        elif self._is("TextClassificationPipeline"):
            return pd.DataFrame(raw)
        else:
            output = _values_of(raw, key)
        output = self._sanitize(output, data)
        return [output] if isinstance(output, str) else output

    def _template(self, data: Any) -> Any:
        if not self.prompt_template:
            return data
        if isinstance(data, str):
            return self.prompt_template.format(prompt=data)
        if isinstance(data, list):
            return [self.prompt_template.format(prompt=d) if isinstance(d, str) else d for d in data]
        return data

    def _sanitize(self, output: Any, data: Any) -> Any:
        if not self._is("TokenClassificationPipeline") and isinstance(data, str) and isinstance(output, list):
            output = output[0]
        if isinstance(output, str):
            return output.strip()
        if isinstance(output, list):
            if all(isinstance(e, str) for e in output):
                cleaned = [e.strip() for e in output]
                return cleaned if len(cleaned) > 1 else cleaned[0]
            return [self._sanitize(e, data) for e in output]
        if isinstance(output, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in output.items()):
            return {k: v.strip() for k, v in output.items()}
        return output


def _check_text(data: Any) -> None:
    if not isinstance(data, (str, list)):
        raise InvalidParameterValue(f"The input data is of an incorrect type. {type(data)} is invalid. "
                                    "Must be either string or List[str]")
    if isinstance(data, list) and not all(isinstance(e, str) for e in data):
        raise InvalidParameterValue("If supplying a list, all values must be of string type.")


def _text_classification_input(data: Any) -> Any:
    def check(payload: dict[Any, Any]) -> None:
        if set(payload) - {"text", "text_pair"} and not all(isinstance(k, int) for k in payload):
            raise MlflowException("Text Classification pipelines may only define dictionary inputs with keys "
                                  "{'text', 'text_pair'}")

    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        check(data)
        return data
    if isinstance(data, list) and all(isinstance(e, str) for e in data):
        return data
    if isinstance(data, list) and all(isinstance(e, dict) for e in data):
        for payload in data:
            check(payload)
        if data and next(iter(data[0])) == 0:
            data = [e[0] for e in data]
        try:
            return [ast.literal_eval(s) for s in data]
        except (ValueError, SyntaxError):
            return data
    raise MlflowException("An unsupported data type has been passed for Text Classification inference. "
                          "Only str, list of str, dict, and list of dict are supported.")


def _text2text_input(data: Any) -> Any:
    if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        if all(isinstance(k, str) for k in data) and "inputs" not in data:
            return " ".join(f"{k}: {v}" for k, v in data.items())
        return list(data.values())
    if isinstance(data, list) and all(isinstance(e, dict) for e in data):
        return [_text2text_input(e) for e in data]
    if isinstance(data, str) or (isinstance(data, list) and all(isinstance(e, str) for e in data)):
        return data
    raise InvalidParameterValue(f"An invalid type has been supplied (type: {type(data).__name__}). Supply a "
                                "Dict[str, str], str, List[str], or a List[Dict[str, str]] for a Text2Text Pipeline.")


def _question_answer_input(data: Any) -> Any:
    if isinstance(data, list):
        return [_question_answer_input(e) for e in data]
    if isinstance(data, dict):
        if not {"question", "context"} <= set(data):
            raise MlflowException("Invalid keys were submitted. Keys must be exclusively {'question', 'context'}")
        return data
    raise InvalidParameterValue(f"An invalid type has been supplied. Must be either List[Dict[str, str]] or "
                                f"Dict[str, str]. {type(data)} is not supported.")


def _json_list(data: Any, key: str) -> Any:
    if isinstance(data, list):
        return [_json_list(e, key) for e in data]
    if isinstance(data, dict):
        if key not in data:
            raise InvalidParameterValue(f"Invalid key in inference payload. The expected inference data key is: {key}")
        if isinstance(data[key], str):
            try:
                return {k: (json.loads(v) if k == key else v) for k, v in data.items()}
            except json.JSONDecodeError:
                return data
    return data


def _zero_shot_frame_to_dict(frame: Any) -> dict[str, Any]:
    parsed = {}
    for column, values in frame.to_dict(orient="list").items():
        distinct: list[Any] = []
        for value in values:
            if value not in distinct:
                distinct.append(value)
        parsed[column] = distinct if all(isinstance(v, str) for v in distinct) and len(distinct) > 1 else distinct[0]
    return parsed


def _zero_shot_output(raw: Any) -> Any:
    import pandas as pd

    rows = raw if isinstance(raw, list) else [raw]
    return pd.DataFrame([{"sequence": r["sequence"], "labels": label, "scores": score}
                         for r in rows for label, score in zip(r["labels"], r["scores"], strict=False)])


def _generated(data: Any, raw: Any, key: str, include_prompt: bool, collapse_whitespace: bool) -> Any:
    if all(isinstance(x, dict) for x in raw):
        output: Any = next(e[key] for e in raw)
    elif all(isinstance(x, list) for x in raw):
        output = [e[key] for coll in raw for e in coll]
    else:
        raise MlflowException(f"Unable to parse the pipeline output: expected a list of dicts or of lists, got {type(raw)}")

    def trim(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip() if collapse_whitespace else text

    del include_prompt  # only instruction pipelines (not in transformers itself) strip the prompt
    if isinstance(data, list) and isinstance(output, list):
        return [trim(o) for o in output]
    if isinstance(data, str) and isinstance(output, str):
        return trim(output)
    raise MlflowException(f"Unknown data structure after parsing output: expected str or List[str], got {type(output)}")


def _values_of(raw: Any, key: Any) -> Any:
    if isinstance(raw, list):
        found: list[Any] = []
        for item in raw:
            if isinstance(item, dict):
                for k, value in item.items():
                    if k == key:
                        found.append(item[key])
                    elif isinstance(value, list) and all(isinstance(e, dict) for e in value):
                        found.extend(_values_of(value, key))
            elif isinstance(item, list):
                found.extend(_values_of(item, key))
        return found
    return raw[key] if key else raw


def _first_of_each(raw: Any, key: str) -> list[Any]:
    if isinstance(raw[0], list):
        return [coll[0][key] if isinstance(coll[0], dict) else [i[0][key] for i in coll] for coll in raw]
    return [raw[0][key]]


def _entities(raw: Any, keys: set[str]) -> Any:
    if raw and isinstance(raw[0], list):
        return [_entities(coll, keys) for coll in raw]
    if not raw:
        return ""
    key = keys.intersection(raw[0]).pop()
    return ",".join(e[key] for e in raw)
