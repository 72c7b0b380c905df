"""The search grammars (reference §8): filters, order_by, page tokens, max_results."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluvial.exceptions import InvalidParameterValue, MlflowException
from fluvial.search import (
    Comparison,
    OrderKey,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
    validate_max_results,
)


def C(entity, key, comparator, value):
    return Comparison(entity, key, comparator, value)


def rejects(filter_string, kind="runs"):
    with pytest.raises(InvalidParameterValue) as info:
        parse_filter(filter_string, kind)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.http_status == 400
    return info.value


def rejects_order(order_by, kind="runs"):
    with pytest.raises(InvalidParameterValue) as info:
        parse_order_by(order_by, kind)
    return info.value


# ---- §8.1 examples that parse ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        (
            "metrics.acc >= 0.9 AND params.model = 'cnn' AND tags.`my tag` LIKE 'x%'",
            [C("metric", "acc", ">=", 0.9), C("param", "model", "=", "cnn"), C("tag", "my tag", "LIKE", "x%")],
        ),
        ('metrics."my metric" < 1e-3', [C("metric", "my metric", "<", 0.001)]),
        ("attributes.run_id IN ('ab12', 'cd34')", [C("attribute", "run_id", "IN", ("ab12", "cd34"))]),
        ("run.start_time > 1700000000000", [C("attribute", "start_time", ">", 1700000000000)]),
        ("`Run name` = 'x'", [C("attribute", "run_name", "=", "x")]),
        ("datasets.digest IN ('a','b')", [C("dataset", "digest", "IN", ("a", "b"))]),
        (
            "status = 'FINISHED' and params.lr = \"0.01\"",
            [C("attribute", "status", "=", "FINISHED"), C("param", "lr", "=", "0.01")],
        ),
    ],
)
def test_reference_examples_parse(filter_string, expected):
    assert parse_filter(filter_string, "runs") == expected


@pytest.mark.parametrize("empty", [None, "", "   ", "\t\n"])
def test_empty_filter_means_no_filtering(empty):
    for kind in ("runs", "experiments", "registered_models", "model_versions"):
        assert parse_filter(empty, kind) == []


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metric.a > 1", C("metric", "a", ">", 1)),
        ("metrics.a > 1", C("metric", "a", ">", 1)),
        ("`metrics`.`acc` = 1", C("metric", "acc", "=", 1)),
        ("param.a = 'x'", C("param", "a", "=", "x")),
        ("params.a = 'x'", C("param", "a", "=", "x")),
        ("parameter.a = 'x'", C("param", "a", "=", "x")),
        ("parameters.a = 'x'", C("param", "a", "=", "x")),
        ("`parameters`.a = 'x'", C("param", "a", "=", "x")),
        ("tag.a = 'x'", C("tag", "a", "=", "x")),
        ("tags.a = 'x'", C("tag", "a", "=", "x")),
        ("attribute.status = 'x'", C("attribute", "status", "=", "x")),
        ("attributes.status = 'x'", C("attribute", "status", "=", "x")),
        ("attr.user_id = 'x'", C("attribute", "user_id", "=", "x")),
        ("run.artifact_uri = 'x'", C("attribute", "artifact_uri", "=", "x")),
        ("dataset.name = 'x'", C("dataset", "name", "=", "x")),
        ("datasets.context != 'x'", C("dataset", "context", "!=", "x")),
        ("created > 5", C("attribute", "start_time", ">", 5)),
        ("Created > 5", C("attribute", "start_time", ">", 5)),
        ("`run name` = 'x'", C("attribute", "run_name", "=", "x")),
        ("`Run Name` LIKE 'x%'", C("attribute", "run_name", "LIKE", "x%")),
        ("run_name ILIKE 'x%'", C("attribute", "run_name", "ILIKE", "x%")),
        ("end_time <= 3", C("attribute", "end_time", "<=", 3)),
        ('"status" = \'x\'', C("attribute", "status", "=", "x")),
    ],
)
def test_entity_and_attribute_aliases(filter_string, expected):
    assert parse_filter(filter_string, "runs") == [expected]


@pytest.mark.parametrize(
    ("filter_string", "key"),
    [
        ("tags.mlflow.runName = 'x'", "mlflow.runName"),  # split on the first dot only
        ("tags.`my tag` = 'x'", "my tag"),
        ('tags."my tag" = \'x\'', "my tag"),
        ("tags.'my tag' = 'x'", "my tag"),
        ("metrics.`a.b` = 1", "a.b"),
        ("params.1x = 'a'", "1x"),
        ("params.and = 'x'", "and"),
        ("metrics.é = 1", "é"),
    ],
)
def test_identifier_keys(filter_string, key):
    assert parse_filter(filter_string, "runs")[0].key == key


@pytest.mark.parametrize(
    ("literal", "value"),
    [("1", 1), ("-1", -1), ("0.9", 0.9), ("1e-3", 0.001), ("-1.5e-3", -0.0015), ("1E5", 100000.0),
     (".5", 0.5), ("1.", 1.0)],
)
def test_numeric_literals(literal, value):
    [c] = parse_filter(f"metrics.m != {literal}", "runs")
    assert c.value == value
    assert type(c.value) is type(value)


@pytest.mark.parametrize(
    ("filter_string", "value"),
    [
        ("params.x = '100'", "100"),
        ("params.x = \"a'b\"", "a'b"),
        ("params.x != ''", ""),
        ("params.x = 'it''s'", "it''s"),  # verbatim between the quotes, as MLflow
    ],
)
def test_string_literals(filter_string, value):
    assert parse_filter(filter_string, "runs")[0].value == value


@pytest.mark.parametrize(
    ("filter_string", "comparator"),
    [
        ("params.x like 'a%'", "LIKE"),
        ("params.x ILike 'a%'", "ILIKE"),
        ("run_id in ('a')", "IN"),
        ("run_id not in ('a')", "NOT IN"),
        ("run_id NOT  IN ('a')", "NOT IN"),
    ],
)
def test_comparators_are_case_insensitive(filter_string, comparator):
    assert parse_filter(filter_string, "runs")[0].comparator == comparator


def test_and_is_case_insensitive_and_repeatable():
    expected = [C("attribute", "status", "=", "a"), C("attribute", "status", "=", "b")]
    assert parse_filter("status = 'a' and status = 'b'", "runs") == expected
    assert parse_filter("status = 'a'\tAnD\tstatus = 'b'", "runs") == expected
    assert parse_filter("status='a'AND status='b'", "runs") == expected
    assert parse_filter("status = 'a' AND AND status = 'b' and", "runs") == expected


def test_run_id_in_drops_values_that_are_not_lower_case():
    [c] = parse_filter("run_id IN ('AB12', 'cd34', 'Cd56')", "runs")
    assert c.value == ("cd34",)
    assert parse_filter("run_id IN ('A')", "runs")[0].value == ()
    [mv] = parse_filter("run_id IN ('a','B')", "model_versions")
    assert mv.value == ("a",)


def test_lists():
    assert parse_filter("run_id IN ( 'a' , 'b', )", "runs")[0].value == ("a", "b")
    assert parse_filter("datasets.name NOT IN ('Iris', 'b')", "runs")[0].value == ("Iris", "b")


# ---- §8.1 rejections -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("metrics.acc > 0.6 OR params.lr = '0.01'", "Invalid clause(s) in filter string: 'OR'"),
        ("(metrics.a > 1)", "Invalid clause(s) in filter string: '(metrics.a > 1)'"),
        ("params.lr = 0.01", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 0.01"),
        ("params.x = 100", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 100"),
        (
            "status = FINISHED",
            "Parameter value is either not quoted or unidentified quote types used for string value FINISHED. "
            "Use either single or double quotes.",
        ),
        (
            "attributes.status IN ('FINISHED')",
            "Only the 'run_id' attribute supports comparison with a list of quoted string values.",
        ),
        (
            'attributes.run_id IN ("abc")',
            "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.",
        ),
        ("tags.t1 IS NULL", "Invalid clause(s) in filter string: 'tags.t1', 'IS', 'NULL'"),
        ("metrics.acc LIKE 1", "Invalid comparator 'LIKE' not one of '{'!=', '<', '<=', '=', '>', '>='}'"),
        ("metrics.acc like 1", "Invalid comparator 'LIKE' not one of "),
        (
            "foo.bar = 'x'",
            "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']",
        ),
        ("METRICS.a > 1", "Invalid entity type 'METRICS'."),
        ("nope = 'x'", "Invalid attribute key 'nope' specified. Valid keys are '{'Created', 'Run Name', "),
        ("attributes.experiment_id = '1'", "Invalid attribute key 'experiment_id' specified."),
        ("datasets.foo = 'x'", "Invalid dataset key 'foo' specified. Valid keys are '{'context', 'digest', 'name'}'"),
        ("metrics.acc = 'x'", "Expected numeric value type for metric. Found 'x'"),
        ("metrics.a = null", "Expected numeric value type for metric. Found null"),
        ("metrics.x IN (1)", "Expected numeric value type for metric. Found (1)"),
        ("start_time = 'x'", "Expected numeric value type for numeric attribute: start_time. Found 'x'"),
        ("params.x > 'a'", "Invalid comparator '>' not one of '{'!=', '=', 'ILIKE', 'LIKE'}'"),
        ("tags.x > 'a'", "Invalid comparator '>' not one of "),
        ("status > 'a'", "Invalid comparator '>' not one of "),
        ("start_time LIKE 1", "Invalid comparator 'LIKE' not one of "),
        ("metrics.a == 1", "Invalid comparator '==' not one of "),
        ("metrics.a <> 1", "Invalid comparator '<>' not one of "),
        ("params.a NOT LIKE 'x'", "Invalid comparator 'NOT LIKE' not one of "),
        ("params.x IN ('a')", "Expected a quoted string value for parameter (e.g. 'my-value'). Got value ('a')"),
        ("tags.x NOT IN ('a')", "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('a')"),
        ("run_id = 5", "Expected a quoted string value for attributes. Got value 5"),
        ("datasets.context = 5", "Expected a quoted string value for dataset attributes. Got value 5"),
        ("params.x = x", "Parameter value is either not quoted or unidentified quote types used for string value x."),
        (
            "run_id IN ()",
            "While parsing a list in the query, expected a non-empty list of string values, but got empty list",
        ),
        ("run_id IN ('a' 'b')", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list."),
        ("run_id IN (,'a')", "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list."),
        (
            "run_id IN ('a', 1)",
            "While parsing a list in the query, expected string value, punctuation, or whitespace, but got "
            "different type in list: ('a', 1)",
        ),
        ("run_id IN 'a'", "Invalid clause(s) in filter string: 'run_id', 'IN', ''a''"),
        ("run_id = ('a')", "Invalid clause(s) in filter string: 'run_id', '=', '('a')'"),
        ("metrics.a", "Invalid clause(s) in filter string: 'metrics.a'"),
        ("metrics.a >", "Invalid clause(s) in filter string: 'metrics.a', '>'"),
        ("metrics.a = +1", "Invalid clause(s) in filter string: 'metrics.a', '=', '+', '1'"),
        ("metrics.a > 1 AND NOT metrics.b > 2", "Invalid clause(s) in filter string: 'NOT'"),
        ("params.x = 'abc", "Invalid clause(s) in filter string: ''abc'"),
        ("'status' = 'x'", "Invalid clause(s) in filter string: ''status''"),
        ("metrics.a > 1.5.5", "Invalid clause(s) in filter string: '1.5.5'"),
        (
            "metrics.a > 1; metrics.b > 2",
            "Search filter contained multiple expression 'metrics.a > 1; metrics.b > 2'. "
            "Provide AND-ed expression list.",
        ),
    ],
)
def test_rejected_run_filters(filter_string, message):
    exc = rejects(filter_string)
    assert exc.message.startswith(message), exc.message
    assert isinstance(exc, MlflowException)


@pytest.mark.parametrize(
    ("filter_string", "position"),
    [
        ("metrics.acc > 0.6 OR params.lr = '0.01'", 18),
        ("params.lr = 0.01", 12),
        ("foo.bar = 'x'", 0),
        ("metrics.acc LIKE 1", 12),
        ("status = 'a' AND params.x = 'abc", 28),
        ("run_id IN ('a', 1)", 16),
    ],
)
def test_errors_point_at_the_bad_token(filter_string, position):
    assert rejects(filter_string).position == position


# ---- experiments, registered models, model versions (§8.2-8.4) ------------------------------------


@pytest.mark.parametrize(
    ("kind", "filter_string", "expected"),
    [
        ("experiments", "name = 'x'", C("attribute", "name", "=", "x")),
        ("experiments", "name like 'x%'", C("attribute", "name", "LIKE", "x%")),
        ("experiments", "attribute.name ILIKE 'x%'", C("attribute", "name", "ILIKE", "x%")),
        ("experiments", "tags.a = 'x'", C("tag", "a", "=", "x")),
        ("experiments", "tag.`a b` != 'x'", C("tag", "a b", "!=", "x")),
        ("experiments", "creation_time > 5", C("attribute", "creation_time", ">", 5)),
        ("experiments", "last_update_time <= 5", C("attribute", "last_update_time", "<=", 5)),
        ("registered_models", "name = 'x'", C("attribute", "name", "=", "x")),
        ("registered_models", "name ILIKE '%x%'", C("attribute", "name", "ILIKE", "%x%")),
        ("registered_models", "tags.`mlflow.prompt.is_prompt` = 'true'", C("tag", "mlflow.prompt.is_prompt", "=", "true")),
        ("registered_models", "tag.a LIKE 'x'", C("tag", "a", "LIKE", "x")),
        ("model_versions", "name = 'm'", C("attribute", "name", "=", "m")),
        ("model_versions", "run_id = 'abc'", C("attribute", "run_id", "=", "abc")),
        ("model_versions", "run_id IN ('abc', 'def')", C("attribute", "run_id", "IN", ("abc", "def"))),
        ("model_versions", "source_path LIKE 's3://%'", C("attribute", "source_path", "LIKE", "s3://%")),
        ("model_versions", "version_number >= 2", C("attribute", "version_number", ">=", 2)),
        ("model_versions", "version_number = '5'", C("attribute", "version_number", "=", 5)),
        ("model_versions", "tags.t = 'x'", C("tag", "t", "=", "x")),
        ("model_versions", "attribute.name = 'm'", C("attribute", "name", "=", "m")),
    ],
)
def test_other_kinds_parse(kind, filter_string, expected):
    assert parse_filter(filter_string, kind) == [expected]


@pytest.mark.parametrize(
    ("kind", "filter_string", "message"),
    [
        ("experiments", "params.a = 'x'",
         "Invalid entity type 'params'. Valid entity types are ('attribute', 'tag', 'tags')"),
        ("experiments", "attributes.name = 'x'", "Invalid entity type 'attributes'."),
        ("experiments", "`tags`.a = 'x'", "Invalid entity type '`tags`'."),
        ("experiments", "metric.a > 1", "Invalid entity type 'metric'."),
        ("experiments", "experiment_id = '1'",
         "Invalid attribute key 'experiment_id' specified. Valid keys are "
         "'{'creation_time', 'last_update_time', 'name'}'"),
        ("experiments", "creation_time > 'x'",
         "Expected numeric value type for numeric attribute: creation_time. Found 'x'"),
        ("experiments", "name IN ('a')", "Only the 'run_id' attribute supports comparison"),
        ("experiments", "name = 5", "Expected a quoted string value for attributes. Got value 5"),
        ("experiments", "tags.a = 5", "Expected a quoted string value for tag (e.g. 'my-value'). Got value 5"),
        ("experiments", "name > 'a'", "Invalid comparator '>' not one of "),
        ("experiments", "creation_time LIKE 5", "Invalid comparator 'LIKE' not one of "),
        ("experiments", "tags.a > 'x'", "Invalid comparator for tag: >"),
        ("experiments", "name = 'a' OR name = 'b'", "Invalid clause(s) in filter string: OR"),
        ("registered_models", "creation_timestamp > 5",
         "Invalid attribute key 'creation_timestamp' specified. Valid keys are '{'name'}'"),
        ("registered_models", "run_id = 'x'", "Invalid attribute key 'run_id' specified."),
        ("registered_models", "name IN ('a')", "Only the 'run_id' attribute supports comparison"),
        ("registered_models", "name = 5",
         "Expected a quoted string value or a list of quoted string values for attributes. Got value 5"),
        ("registered_models", "name > 'x'", "Invalid comparator for attribute: >"),
        ("registered_models", "tags.a > 'x'", "Invalid comparator for tag: >"),
        ("registered_models", "params.a = 'x'", "Invalid entity type 'params'."),
        ("model_versions", "run_id NOT IN ('a')", "Invalid comparator for attribute: NOT IN"),
        ("model_versions", "name IN ('a')", "Only the 'run_id' attribute supports comparison"),
        ("model_versions", "version_number LIKE 5", "Invalid comparator for attribute version_number: LIKE"),
        ("model_versions", "version_number = 'x'",
         "Expected numeric value type for numeric attribute: version_number. Found 'x'"),
        ("model_versions", "name = 5",
         "Only the '{'creation_timestamp', 'last_updated_timestamp', 'version_number'}' attributes support "
         "comparison with numeric values."),
        ("model_versions", "current_stage = 'x'", "Invalid attribute key 'current_stage' specified."),
        ("model_versions", "creation_timestamp > 5", "Invalid attribute key 'creation_timestamp' specified."),
        ("model_versions", "tags.x > 'a'", "Invalid comparator for tag: >"),
        ("model_versions", "`attribute`.name = 'x'", "Invalid entity type '`attribute`'."),
    ],
)
def test_other_kinds_reject(kind, filter_string, message):
    exc = rejects(filter_string, kind)
    assert exc.message.startswith(message), exc.message


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="Unknown search kind"):
        parse_filter("name = 'x'", "traces")


# ---- order_by -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "clause", "expected"),
    [
        ("runs", "metrics.acc", OrderKey("metric", "acc", True)),
        ("runs", "metrics.acc DESC", OrderKey("metric", "acc", False)),
        ("runs", "metric.`a b` desc", OrderKey("metric", "a b", False)),
        ("runs", "params.lr ASC", OrderKey("param", "lr", True)),
        ("runs", "tags.mlflow.runName", OrderKey("tag", "mlflow.runName", True)),
        ("runs", "start_time", OrderKey("attribute", "start_time", True)),
        ("runs", "Created DESC", OrderKey("attribute", "start_time", False)),
        ("runs", "attributes.run_name", OrderKey("attribute", "run_name", True)),
        ("runs", "run_id", OrderKey("attribute", "run_id", True)),
        ("runs", "end_time", OrderKey("attribute", "end_time", True)),
        ("experiments", "name", OrderKey("attribute", "name", True)),
        ("experiments", "`name` DESC", OrderKey("attribute", "name", False)),
        ("experiments", '"name" DESC', OrderKey("attribute", "name", False)),
        ("experiments", "attribute.experiment_id", OrderKey("attribute", "experiment_id", True)),
        ("experiments", "last_update_time desc", OrderKey("attribute", "last_update_time", False)),
        ("registered_models", "name", OrderKey("attribute", "name", True)),
        ("registered_models", "timestamp DESC", OrderKey("attribute", "last_updated_timestamp", False)),
        ("registered_models", "last_updated_timestamp", OrderKey("attribute", "last_updated_timestamp", True)),
        ("model_versions", "version_number DESC", OrderKey("attribute", "version_number", False)),
        ("model_versions", "creation_timestamp", OrderKey("attribute", "creation_timestamp", True)),
        ("model_versions", "last_updated_timestamp", OrderKey("attribute", "last_updated_timestamp", True)),
    ],
)
def test_order_by_parses(kind, clause, expected):
    assert parse_order_by([clause], kind) == [expected]


def test_order_by_empty():
    assert parse_order_by(None, "runs") == []
    assert parse_order_by([], "experiments") == []


@pytest.mark.parametrize(
    ("kind", "order_by", "message"),
    [
        ("runs", ["metrics.a DESC NULLS LAST"], "Invalid order_by clause 'metrics.a DESC NULLS LAST'. Could not be parsed."),
        ("runs", ["params.a,params.b"], "Invalid order_by clause 'params.a,params.b'. Could not be parsed."),
        ("runs", [" "], "Invalid order_by clause ' '. Could not be parsed."),
        ("runs", ["'name'"], "Invalid order_by clause ''name''. Could not be parsed."),
        ("runs", ["metrics.a DESCENDING"], "Invalid ordering key in order_by clause 'metrics.a DESCENDING'."),
        ("runs", ["run name"], "Invalid ordering key in order_by clause 'run name'."),
        ("runs", ["datasets.name"], "Invalid identifier type 'dataset'"),
        ("runs", ["foo"], "Invalid attribute key 'foo' specified. Valid keys are '{'Created', 'artifact_uri', "),
        ("runs", ["`Run name`"], "Invalid attribute key 'Run name' specified."),
        ("runs", ["experiment_id"], "Invalid attribute key 'experiment_id' specified."),
        ("runs", ["metrics.a DESC", "metrics.a ASC"],
         "`order_by` contains duplicate fields: ['metrics.a DESC', 'metrics.a ASC']"),
        ("runs", ["metric.a", "metrics.a"], "`order_by` contains duplicate fields"),
        ("runs", ["created", "start_time"], "`order_by` contains duplicate fields"),
        ("experiments", ["tags.a"], "Invalid order_by entity: tag"),
        ("experiments", ["foo"],
         "Invalid attribute key 'foo' specified. Valid keys are "
         "'{'creation_time', 'experiment_id', 'last_update_time', 'name'}'"),
        ("experiments", ["name nulls last"], "Invalid order_by clause 'name nulls last'. Could not be parsed."),
        ("experiments", ["name ASC", "name DESC"], "`order_by` contains duplicate fields"),
        ("registered_models", ["creation_timestamp"],
         "Invalid order by key 'creation_timestamp' specified. Valid keys are '{'name', 'timestamp'}'"),
        ("registered_models", ["tags.a"], "Invalid order by key 'tags.a' specified."),
        ("registered_models", ["attribute.name"], "Invalid order by key 'attribute.name' specified."),
        ("registered_models", ["last_updated_timestamp", "timestamp"], "`order_by` contains duplicate fields"),
        ("model_versions", ["timestamp"], "Invalid attribute key 'timestamp' specified."),
        ("model_versions", ["tags.a"],
         "Invalid order by key 'a' specified. Valid keys are "
         "{'creation_timestamp', 'last_updated_timestamp', 'name', 'version_number'}"),
        ("model_versions", ["name", "name"], "`order_by` contains duplicate fields: ['name', 'name']"),
    ],
)
def test_order_by_rejects(kind, order_by, message):
    exc = rejects_order(order_by, kind)
    assert exc.message.startswith(message), exc.message


# ---- page tokens and max_results ------------------------------------------------------------------


def test_page_token_format_is_mlflows():
    assert encode_page_token(1) == "eyJvZmZzZXQiOiAxfQ=="
    assert json.loads(base64.b64decode(encode_page_token(1000))) == {"offset": 1000}
    assert decode_page_token("eyJvZmZzZXQiOiAxfQ==") == 1
    assert decode_page_token(None) == 0
    assert decode_page_token("") == 0


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("garbage!", "Invalid page token, could not base64-decode"),
        ("abc", "Invalid page token, could not base64-decode"),
        (base64.b64encode(b"not json").decode(), "Invalid page token, decoded value="),
        (base64.b64encode(b'{"x": 1}').decode(), "Invalid page token, parsed value="),
        (base64.b64encode(b"[1]").decode(), "Invalid page token, parsed value="),
        (base64.b64encode(b'{"offset": -3}').decode(), "Invalid page token, parsed value="),
        (base64.b64encode(b'{"offset": true}').decode(), "Invalid page token, parsed value="),
        (base64.b64encode(b'{"offset": "x"}').decode(), "Invalid page token, not stringable x"),
    ],
)
def test_bad_page_tokens(token, message):
    with pytest.raises(InvalidParameterValue) as info:
        decode_page_token(token)
    assert info.value.message.startswith(message)


@given(st.integers(min_value=0, max_value=2**62))
def test_page_token_round_trip(offset):
    assert decode_page_token(encode_page_token(offset)) == offset


def test_validate_max_results():
    assert validate_max_results(1, 50000) == 1
    assert validate_max_results(50000, 50000) == 50000
    with pytest.raises(InvalidParameterValue) as info:
        validate_max_results(50001, 50000)
    assert info.value.message == (
        "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000"
    )
    for bad in (0, -1, None, "5", 1.5, True):
        with pytest.raises(InvalidParameterValue, match="It must be a positive integer"):
            validate_max_results(bad, 1000)
    with pytest.raises(InvalidParameterValue, match="for parameter 'page_size' supplied"):
        validate_max_results(0, 10, name="page_size")


# ---- properties -----------------------------------------------------------------------------------

_KINDS = ("runs", "experiments", "registered_models", "model_versions")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abmst._`'\"()=<>!%,;- 01e\tANDINOTLIKE")), max_size=40),
       st.sampled_from(_KINDS))
def test_any_input_parses_or_raises_invalid_parameter_value(text, kind):
    try:
        result = parse_filter(text, kind)
    except InvalidParameterValue:
        return
    assert all(isinstance(c, Comparison) for c in result)


_keys = st.text(alphabet=st.characters(blacklist_characters="`", blacklist_categories=("Cs",)), min_size=1,
                max_size=12)
_values = st.text(alphabet=st.characters(blacklist_characters="'\\", blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["params", "tags"]), _keys, st.sampled_from(["=", "!=", "LIKE", "ILIKE"]),
                          _values), min_size=1, max_size=4))
def test_rendered_filters_round_trip(clauses):
    text = " AND ".join(f"{entity}.`{key}` {op} '{value}'" for entity, key, op, value in clauses)
    expected = [C("param" if e == "params" else "tag", k, op, v) for e, k, op, v in clauses]
    assert parse_filter(text, "runs") == expected
