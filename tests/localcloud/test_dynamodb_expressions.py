"""localcloud's expression handling (localcloud.dynamodb.expressions) answers what moto answers:
the same writes, good and bad, run with moto's own parser and walker and with localcloud's,
leave the same items and the same errors; and a text is parsed once, however often it comes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.parsing import ast_nodes, validators
from moto.dynamodb.parsing import expressions as update_parsing

from localcloud.dynamodb import expressions, patches
from localcloud.spec import REGION

# moto's parsing modules start with "# type: ignore": mypy sees nothing in them
DepthFirstTraverser: Any = ast_nodes.DepthFirstTraverser  # type: ignore[attr-defined]
UpdateExpressionParser: Any = update_parsing.UpdateExpressionParser  # type: ignore[attr-defined]
Node: Any = ast_nodes.Node  # type: ignore[attr-defined]

TABLE = "Expressions"
KEY = {"pk": {"S": "p1"}, "sk": {"N": "1"}}


def _update(expression: str, values: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"Key": KEY, "UpdateExpression": expression, **extra}
    if values is not None:
        request["ExpressionAttributeValues"] = values
    return {"op": "update_item", **request}


def _put(item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"op": "put_item", "Item": {**KEY, **item}, **extra}


NOT_THERE = "attribute_not_exists(#id) OR #exp < :now OR (#st = :busy AND #ipx < :now_ms)"
NOT_THERE_NAMES = {"#id": "pk", "#exp": "expiry", "#st": "status", "#ipx": "inProgressExpiry"}


def _in_progress_put(now_ms: str) -> dict[str, Any]:
    """Powertools idempotency's INPROGRESS record, conditional as it writes it."""
    return _put(
        {"status": {"S": "INPROGRESS"}, "expiry": {"N": "100"}, "inProgressExpiry": {"N": "5"}},
        ConditionExpression=NOT_THERE,
        ExpressionAttributeNames=NOT_THERE_NAMES,
        ExpressionAttributeValues={
            ":now": {"N": "50"},
            ":now_ms": {"N": now_ms},
            ":busy": {"S": "INPROGRESS"},
        },
    )


# Each request runs twice in a row: the second use of its texts, cached by the first, meets
# what the first left (a conditional write then finds the item its first run wrote).
REQUESTS: list[dict[str, Any]] = [
    _in_progress_put(now_ms="1"),  # written; then refused: in progress until 5 ms
    _in_progress_put(now_ms="9"),  # past 5 ms: written, twice
    _update(
        "SET #r = :r, #exp = :e, #st = :s",
        {":r": {"S": '{"ok": true}'}, ":e": {"N": "200"}, ":s": {"S": "COMPLETED"}},
        ExpressionAttributeNames={"#r": "data", "#exp": "expiry", "#st": "status"},
        ReturnValues="ALL_NEW",
    ),
    _update(
        "SET visits = if_not_exists(visits, :zero) + :one,"
        " tags = list_append(if_not_exists(tags, :empty), :tag)",
        {":zero": {"N": "0"}, ":one": {"N": "1"}, ":empty": {"L": []}, ":tag": {"L": [{"S": "a"}]}},
        ReturnValues="UPDATED_NEW",
    ),
    _update("SET nested = :m", {":m": {"M": {"a": {"M": {"b": {"N": "1"}}}, "l": {"L": []}}}}),
    _update(
        "SET nested.a.b = nested.a.b + :one, nested.l = :l",
        {":one": {"N": "1"}, ":l": {"L": [{"S": "x"}, {"S": "y"}]}},
    ),
    _update("REMOVE nested.l[0] SET nested.c = :c", {":c": {"BOOL": True}}, ReturnValues="ALL_OLD"),
    _update("ADD amounts :n, grand :t", {":n": {"NS": ["1", "2"]}, ":t": {"N": "3.5"}}),
    _update("DELETE amounts :n", {":n": {"NS": ["1"]}}, ReturnValues="UPDATED_OLD"),
    _update(
        "SET #st = :s",
        {":s": {"S": "X"}, ":want": {"S": "NOPE"}},
        ExpressionAttributeNames={"#st": "status"},
        ConditionExpression="#st = :want",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    ),
    _update(
        "SET #st = :s",
        {
            ":s": {"S": "SHIPPED"},
            ":low": {"N": "1"},
            ":high": {"N": "9"},
            ":states": {"S": "COMPLETED"},
            ":nothing": {"N": "0"},
        },
        ExpressionAttributeNames={"#st": "status"},
        ConditionExpression="visits BETWEEN :low AND :high AND #st IN (:states, :s)"
        " AND size(tags) > :nothing",
    ),
    _update(
        "SET #st = :s",
        {":s": {"S": "SHIPPED"}, ":p": {"S": "SHI"}, ":ltype": {"S": "L"}},
        ExpressionAttributeNames={"#st": "status"},
        ConditionExpression="begins_with(#st, :p) AND attribute_type(tags, :ltype)",
    ),
    # refused by DynamoDB (and moto), each for its own reason
    _update("SET sk = :v", {":v": {"N": "2"}}),  # a key attribute
    _update("SET a = :v,", {":v": {"N": "2"}}),  # syntax
    _update("SET a = :v", {":v": {"N": "2"}, ":unused": {"N": "3"}}),
    _update("SET a = :missing", {":v": {"N": "2"}}),
    _update("ADD status :v", {":v": {"N": "2"}}),  # a reserved word
    _update("ADD #st :v", {":v": {"N": "2"}}, ExpressionAttributeNames={"#st": "status"}),
    _update("SET absent.deeper = :v", {":v": {"N": "2"}}),  # a path that does not exist
    _update("SET visits = visits + :s", {":s": {"S": "x"}}),  # arithmetic on a string
    _put({"x": {"S": "y"}}, ConditionExpression="attribute_exists(nope)"),
    {
        "op": "transact_write_items",
        "TransactItems": [
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": KEY,
                    "UpdateExpression": "SET visits = visits + :one",
                    "ConditionExpression": "visits < :cap",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":cap": {"N": "4"}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "p0"}, "sk": {"N": "1"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": TABLE,
                    "Item": {"pk": {"S": "p2"}, "sk": {"N": "1"}, "n": {"N": "1"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ],
    },
]


def _answers(dynamodb: Any) -> list[Any]:
    """Every request twice; what each answered (or its error), then every item."""
    answers: list[Any] = []
    for request in REQUESTS:
        op, kwargs = request["op"], {k: v for k, v in request.items() if k != "op"}
        if op != "transact_write_items":
            kwargs["TableName"] = TABLE
        for _ in range(2):
            try:
                answer = getattr(dynamodb, op)(**kwargs)
                answer.pop("ResponseMetadata", None)
                answers.append(answer)
            except ClientError as error:
                answers.append(
                    {
                        "error": error.response["Error"].get("Code"),
                        "message": error.response["Error"].get("Message"),
                        "item": error.response.get("Item"),
                        "reasons": error.response.get("CancellationReasons"),
                    }
                )
    answers.append(sorted(dynamodb.scan(TableName=TABLE)["Items"], key=repr))
    return answers


def _run() -> list[Any]:
    with mock_aws():
        dynamodb: Any = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        return _answers(dynamodb)


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    patches.install()


def test_the_same_writes_answer_the_same_with_and_without_localclouds_expressions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the requests run with localcloud's parsing and walking
    ours = _run()
    # When they run again with moto's own
    monkeypatch.setattr(UpdateExpressionParser, "make", classmethod(expressions.moto_make))
    monkeypatch.setattr(
        ConditionExpressionParser, "_lex_condition_expression", expressions.moto_lex
    )
    monkeypatch.setattr(DepthFirstTraverser, "traverse", expressions.moto_traverse)
    monkeypatch.setattr(ConditionExpressionParser, "parse", expressions.moto_parse)
    monkeypatch.setattr(validators, "deepcopy", expressions.moto_deepcopy)
    monkeypatch.setattr(Node, "find_clauses", expressions.moto_find_clauses)
    motos = _run()
    # Then every answer, error and item is the same
    assert len(ours) == len(motos) == 2 * len(REQUESTS) + 1
    for index, (mine, theirs) in enumerate(zip(ours, motos, strict=True)):
        assert mine == theirs, f"answer {index} ({REQUESTS[min(index // 2, len(REQUESTS) - 1)]})"
    # and the scenario exercised both successes and refusals of each kind
    errors = {answer["error"] for answer in ours[:-1] if "error" in answer}
    assert errors == {
        "ValidationException",
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    }
    assert ours[-1], "the table holds the written items"


def test_an_expression_is_parsed_once_per_text_and_its_tree_is_left_as_it_was() -> None:
    # Given an update expression that a validator rewrites (placeholders resolved)
    text = "SET #a = :a, b = if_not_exists(b, :zero) + :one"
    first = UpdateExpressionParser.make(text)
    before = repr(first)
    # When it is used by an update
    with mock_aws():
        dynamodb: Any = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="Once",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_item(
            TableName="Once",
            Key={"pk": {"S": "k"}},
            UpdateExpression=text,
            ExpressionAttributeNames={"#a": "a"},
            ExpressionAttributeValues={":a": {"S": "x"}, ":zero": {"N": "0"}, ":one": {"N": "1"}},
        )
        item = dynamodb.get_item(TableName="Once", Key={"pk": {"S": "k"}})["Item"]
    # Then the same tree serves the next request, unchanged by the first
    assert UpdateExpressionParser.make(text) is first
    assert repr(first) == before
    assert item == {"pk": {"S": "k"}, "a": {"S": "x"}, "b": {"N": "1"}}
    # and a condition's tokens are lexed once per text
    lexed = ConditionExpressionParser("a = :v AND b < :w", {}, {})._lex_condition_expression()
    again = ConditionExpressionParser("a = :v AND b < :w", {}, {})._lex_condition_expression()
    assert list(lexed) == list(again)
    assert all(x is y for x, y in zip(lexed, again, strict=True))


def test_an_invalid_expression_is_refused_every_time() -> None:
    # Given an update expression that does not parse, and a condition that does not lex
    for _ in range(2):
        # When either is used
        # Then it raises each time (nothing of it is kept)
        with pytest.raises(Exception, match=r"Invalid UpdateExpression|Syntax error"):
            UpdateExpressionParser.make("SET a = :v,")
        with pytest.raises(ValueError, match="Cannot parse condition"):
            ConditionExpressionParser("a = :v ; b", {}, {})._lex_condition_expression()


def test_a_condition_is_parsed_once_per_text_names_and_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given moto's own parse, counted
    parsed: list[str] = []

    def counted(parser: Any) -> Any:
        parsed.append(parser.condition_expression)
        return moto_parse(parser)

    moto_parse = expressions.moto_parse
    monkeypatch.setattr(expressions, "moto_parse", counted)
    monkeypatch.setattr(expressions, "_parses", {})
    with mock_aws():
        dynamodb: Any = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="Once",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        condition = "attribute_not_exists(pk) OR #n < :n"
        # When puts carry the same condition: twice with equal values (new dicts each time),
        # then with a lower value, then with a binary value
        answers = []
        for n, limit in (("1", {"N": "2"}), ("2", {"N": "2"}), ("3", {"N": "1"})):
            try:
                dynamodb.put_item(
                    TableName="Once",
                    Item={"pk": {"S": "k"}, "n": {"N": n}},
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#n": "n"},
                    ExpressionAttributeValues={":n": dict(limit)},
                )
                answers.append("written")
            except ClientError as error:
                answers.append(error.response["Error"]["Code"])
        item = dynamodb.get_item(TableName="Once", Key={"pk": {"S": "k"}})["Item"]
        for _ in range(2):
            try:
                dynamodb.put_item(
                    TableName="Once",
                    Item={"pk": {"S": "k"}},
                    ConditionExpression="#n = :b",
                    ExpressionAttributeNames={"#n": "n"},
                    ExpressionAttributeValues={":b": {"B": b"x"}},
                )
            except ClientError as error:
                answers.append(error.response["Error"]["Code"])
        # and a condition naming a value it was not given fails each time
        for _ in range(2):
            try:
                dynamodb.put_item(
                    TableName="Once",
                    Item={"pk": {"S": "k"}},
                    ConditionExpression="#n = :missing",
                    ExpressionAttributeNames={"#n": "n"},
                    ExpressionAttributeValues={":b": {"S": "x"}},
                )
            except KeyError:  # moto's parser raises it through mock_aws (a 500 in server mode)
                answers.append("KeyError")
    # Then the first request parsed it once (moto's handler and backend each asked), the
    # second used that parse, the third (other values) parsed anew and was judged by its own
    # value (2 < 1 is false); binary values are parsed every time, and so is a bad condition
    assert parsed == [condition, condition, "#n = :b", "#n = :b"] + ["#n = :missing"] * 2
    assert (
        answers
        == ["written", "written", "ConditionalCheckFailedException"]
        + ["ConditionalCheckFailedException"] * 2
        + ["KeyError"] * 2
    )
    assert item == {"pk": {"S": "k"}, "n": {"N": "2"}}


def _nodes(tree: Any) -> list[Any]:
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        todo.extend(child for child in node.children or [] if isinstance(child, Node))
    return found


def test_a_validator_copies_a_kept_tree_from_its_snapshot_as_deepcopy_would() -> None:
    # Given kept update expressions of every clause kind
    for text in (
        "SET #a = :a, b = if_not_exists(b, :zero) + :one, c = list_append(c, :l)",
        "REMOVE x.y[2], z ADD n :n DELETE s :s SET m.k = m.k - :one",
    ):
        tree = UpdateExpressionParser.make(text)
        assert tree in expressions._snapshots
        # When a validator's deepcopy copies it
        copied = validators.deepcopy(tree)
        # Then the copy is the graph moto's deepcopy makes, sharing no node with the kept tree
        assert expressions._graph(copied) == expressions._graph(expressions.moto_deepcopy(tree))
        kept = {id(node) for node in _nodes(tree)}
        assert kept.isdisjoint(id(node) for node in _nodes(copied))
        assert all(
            child.parent is node
            for node in _nodes(copied)
            for child in node.children or []
            if isinstance(child, Node)
        )


class _Slotted:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


def test_a_tree_pickle_would_not_copy_faithfully_gets_no_snapshot() -> None:
    # Given a parsed tree holding a value the graph check does not describe
    tree = UpdateExpressionParser.make("SET q = :q")
    odd = expressions.moto_deepcopy(tree)
    odd.children.append(_Slotted(1))
    # When a snapshot is asked for it, and its copy is made
    # Then there is none: it is deep-copied as moto does
    assert expressions.faithful_snapshot(odd) is None
    assert expressions.faithful_snapshot(tree) is not None
    assert validators.deepcopy(odd) is not odd


FIND_TEXTS = (
    "SET #a = :a, b = if_not_exists(b, :zero) + :one, c = list_append(c, :l)",
    "REMOVE x.y[2], z ADD n :n DELETE s :s SET m.k = m.k - :one",
    "SET a = :a SET b = :b ADD c :c ADD d :d",  # refused later: two SET, two ADD clauses
    "DELETE s :s REMOVE r[1], r[3] SET t = list_append(if_not_exists(t, :e), :l)",
)


def test_find_clauses_finds_what_motos_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given trees of every clause and action kind, and the clause types moto asks for
    wanted = [
        [ast_nodes.ExpressionAttributeName],  # type: ignore[attr-defined]
        [ast_nodes.ExpressionAttributeValue],  # type: ignore[attr-defined]
        [ast_nodes.UpdateExpressionAddClause],  # type: ignore[attr-defined]
        [ast_nodes.UpdateExpressionRemoveClause],  # type: ignore[attr-defined]
        [ast_nodes.UpdateExpressionSetClause],  # type: ignore[attr-defined]
        [
            ast_nodes.UpdateExpressionAddAction,  # type: ignore[attr-defined]
            ast_nodes.UpdateExpressionDeleteAction,  # type: ignore[attr-defined]
            ast_nodes.UpdateExpressionRemoveAction,  # type: ignore[attr-defined]
            ast_nodes.UpdateExpressionSetAction,  # type: ignore[attr-defined]
        ],
    ]
    trees = [expressions.moto_make(UpdateExpressionParser, text) for text in FIND_TEXTS]
    # When localcloud's find_clauses and moto's look for them, each twice
    ours = [[tree.find_clauses(types) for types in wanted] for tree in trees for _ in range(2)]
    monkeypatch.setattr(Node, "find_clauses", expressions.moto_find_clauses)
    motos = [[tree.find_clauses(types) for types in wanted] for tree in trees for _ in range(2)]
    # Then both find the very same nodes in the same order, and something was found
    assert [[[id(n) for n in found] for found in tree] for tree in ours] == [
        [[id(n) for n in found] for found in tree] for tree in motos
    ]
    assert all(any(found) for found in ours)
