"""The transformers flavor through the public API with a tiny model built from a config: log, load as
pipeline / components / pyfunc, MLflow's default signatures, model_config and bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import fluvial as mlflow
from fluvial.exceptions import MlflowException

pytest.importorskip("transformers")
pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parent))
import _hf_tiny as tiny

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.filterwarnings("ignore::UserWarning")]


@pytest.fixture(scope="module")
def classifier():
    return tiny.tiny_pipeline("text-classification")


def test_log_and_load_as_pipeline_components_and_pyfunc(classifier, tracking_uri):
    with mlflow.start_run():
        info = mlflow.transformers.log_model(classifier, "model", pip_requirements=["transformers"],
                                             model_config={"truncation": True})
    pipe = mlflow.transformers.load_model(info.model_uri)
    assert type(pipe).__name__ == "TextClassificationPipeline"
    assert pipe("the cat sat") == classifier("the cat sat")
    parts = mlflow.transformers.load_model(info.model_uri, return_type="components")
    assert {"model", "tokenizer", "task"} <= set(parts) and parts["task"] == "text-classification"
    pred = mlflow.pyfunc.load_model(info.model_uri).predict(["the cat sat", "a dog"])
    assert list(pred.columns) == ["label", "score"] and len(pred) == 2
    meta = yaml.safe_load(Path(mlflow.artifacts.download_artifacts(info.model_uri), "MLmodel").read_text())
    assert meta["flavors"]["python_function"]["config"] == {"truncation": True}
    assert meta["flavors"]["transformers"]["components"] == ["tokenizer"]
    assert "label" in meta["signature"]["outputs"]


def test_bad_input_is_refused_before_anything_is_written(classifier, tmp_path):
    target = tmp_path / "m"
    with pytest.raises(MlflowException, match="task="):
        mlflow.transformers.save_model({"model": classifier.model, "tokenizer": classifier.tokenizer}, str(target))
    with pytest.raises(MlflowException, match="not supported"):
        mlflow.transformers.save_model(classifier, str(target), task="llm/v1/chat")
    with pytest.raises(MlflowException, match="save_pretrained=False"):
        mlflow.transformers.save_model(classifier, str(target), save_pretrained=False)
    with pytest.raises(MlflowException, match="Prompt templating"):
        mlflow.transformers.save_model(classifier, str(target), prompt_template="Q: {prompt}")
    with pytest.raises(TypeError, match="input_exmple"):
        mlflow.transformers.log_model(classifier, "model", input_exmple="x")
    assert not target.exists()
    with pytest.raises(MlflowException, match="return_type"):
        mlflow.transformers.load_model(str(target), return_type="tensors")


def test_components_dict_with_task_and_prompt_template(classifier, tmp_path):
    gen = tiny.tiny_pipeline("text-generation")
    mlflow.transformers.save_model({"model": gen.model, "tokenizer": gen.tokenizer}, str(tmp_path / "g"),
                                   task="text-generation", prompt_template="the {prompt}",
                                   model_config={"do_sample": False, "max_new_tokens": 2},
                                   pip_requirements=["transformers"])
    meta = yaml.safe_load((tmp_path / "g" / "MLmodel").read_text())
    assert meta["metadata"]["prompt_template"] == "the {prompt}"
    assert meta["flavors"]["python_function"]["config"]["return_full_text"] is False
    out = mlflow.pyfunc.load_model(str(tmp_path / "g")).predict("cat sat")
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], str)


def test_sentence_transformers_log_load_and_encode(tracking_uri, tmp_path):
    pytest.importorskip("sentence_transformers")
    model = tiny.tiny_sentence_transformer()
    sentences = ["the cat sat", "a good movie"]
    with mlflow.start_run():
        info = mlflow.sentence_transformers.log_model(model, "st", pip_requirements=["sentence-transformers"])
    expected = model.encode(sentences)
    assert (mlflow.sentence_transformers.load_model(info.model_uri).encode(sentences) == expected).all()
    pyfunc = mlflow.pyfunc.load_model(info.model_uri)
    import numpy as np
    import pandas as pd

    np.testing.assert_allclose(pyfunc.predict(pd.DataFrame({"s": sentences})), expected, rtol=1e-5)
    with pytest.raises(MlflowException, match="not supported"):
        mlflow.sentence_transformers.save_model(model, str(tmp_path / "x"), task="llm/v1/embeddings")
    with pytest.raises(MlflowException, match="SentenceTransformer"):
        mlflow.sentence_transformers.save_model(object(), str(tmp_path / "y"))
