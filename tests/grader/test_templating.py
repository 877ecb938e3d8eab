from rft_grader.sample import NOT_JSON, Sample
from rft_grader.templating import references, render
from rft_schemas import FunctionCall, ToolCall


def test_render_inserts_strings_as_is_and_other_values_as_json() -> None:
    item = {"q": "Why?", "n": 3, "obj": {"a": [1, 2]}}
    rendered = render("{{item.q}} {{item.n}} {{item.obj}} {{item.obj.a[1]}}", Sample("x"), item)
    assert rendered.text == 'Why? 3 {"a": [1, 2]} 2'
    assert rendered.missing == []


def test_output_json_is_parsed_once_and_only_when_read() -> None:
    sample = Sample('{"a": {"b": true}}')
    assert "output_json" not in sample.__dict__
    assert render("{{sample.output_json.a.b}}", sample, {}).text == "true"
    assert sample.__dict__["output_json"] == {"a": {"b": True}}
    assert Sample("not json").output_json is NOT_JSON
    assert Sample("[" * 100_000).output_json is NOT_JSON  # too deep for json: not JSON


def test_output_tools_namespace_is_openai_tool_calls() -> None:
    sample = Sample(output_tools=[ToolCall(id="1", function=FunctionCall(name="f",
                                                                        arguments='{"x": 1}'))])
    text = render("{{sample.output_tools}}", sample, {}).text
    assert text == ('[{"id": "1", "type": "function", "function": {"name": "f", '
                    '"arguments": "{\\"x\\": 1}"}}]')


def test_references_report_positions() -> None:
    refs = references("a {{item.x}} b {{ sample.output_text }}")
    assert [(r.dotted, r.position) for r in refs] == [("item.x", 2), ("sample.output_text", 15)]


def test_any_error_covers_every_boolean_flag() -> None:
    from rft_schemas.grader import GraderErrors

    assert not GraderErrors().any()
    for flag in GraderErrors().flags():
        assert GraderErrors(**{flag: True}).any(), flag
