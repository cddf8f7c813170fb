"""Call shaping (`agentkit.models.shaping`): values read from a request, planned calls, their
argument schemas, the prompt's tool list, and the grammar that holds a routed reply to the plan."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentkit import Tool
from agentkit.errors import UsageError
from agentkit.formats import HermesFormat, SmolLM2Format
from agentkit.models import _values
from agentkit.models.shaping import CallShaping, display_tool, plan_calls


def schema_tool(name: str, properties: dict[str, Any], required: list[str], doc: str = "") -> Tool:
    parameters = {"type": "object", "properties": properties, "required": required}
    return Tool.from_schema({"name": name, "description": doc, "parameters": parameters})


WEATHER = schema_tool(
    "get_weather",
    {
        "city": {"type": "string", "description": "The city, e.g. San Francisco"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
        "detailed": {"type": "boolean"},
    },
    ["city"],
    "Current weather in a city.",
)
FACTORIAL = schema_tool("factorial", {"n": {"type": "integer"}}, ["n"], "n!")
GCD = schema_tool("gcd", {"a": {"type": "integer"}, "b": {"type": "integer"}}, ["a", "b"])
LCM = schema_tool("lcm", {"a": {"type": "integer"}, "b": {"type": "integer"}}, ["a", "b"])
TOOLS = [WEATHER, FACTORIAL, GCD, LCM]


def keyword_route(text: str) -> str | None:
    """A router by keyword, for the clauses of a request."""
    lowered = text.lower()
    for word, name in (("weather", "get_weather"), ("gcd", "gcd"), ("lcm", "lcm")):
        if word in lowered:
            return name
    return "factorial" if "factorial" in lowered else None


def plan(query: str, chosen: str, shaping: CallShaping | None = None) -> list[Any]:
    return plan_calls(query, TOOLS, chosen, keyword_route, shaping or CallShaping())


# -- values ---------------------------------------------------------------------------------------
def test_numbers_are_read_as_written_and_as_words() -> None:
    found = _values.numbers("Drive 12,000 miles for $30.45, twice, at 5% with 0.01m2 and -3")
    assert [v.value for v in found] == [12000, 30.45, 2, 5, 0.05, 0.01, -3]
    assert [v.value for v in _values.numbers("AL2562 and 2022-2023")] == [2022, 2023]


def test_names_skip_sentence_openers_and_keep_quotes_whole() -> None:
    found = _values.names("Find shows on Netflix for 'The Office'. What about New York?")
    assert [v.text for v in found] == ["Netflix", "The Office", "New York"]


def test_spans_never_start_or_end_on_a_stop_word_nor_cross_a_sentence() -> None:
    found = _values.spans("Book the Hilton in Chicago. Then call Bob")
    assert "Hilton in Chicago" in found and "Chicago" in found
    assert not any(s.startswith(("the ", "in ")) or s.endswith((" in", " the")) for s in found)
    assert not any("Chicago" in s and "Bob" in s for s in found)


def test_values_are_bounded_on_huge_requests() -> None:
    text = "word " * 100_000
    assert len(_values.spans(text)) <= _values.MAX_WORDS * _values.MAX_SPAN_WORDS
    assert _values.numbers("1 " * 100_000)[-1].start < 1000


def test_clauses_cut_where_a_new_request_begins() -> None:
    text = "Get the weather in Oslo, and then find the factorial of 5. Also the GCD of 4 and 6"
    assert _values.clauses(text) == [
        "Get the weather in Oslo",
        "find the factorial of 5.",
        "the GCD of 4 and 6",
    ]


# -- planned calls --------------------------------------------------------------------------------
def test_one_intent_with_two_cities_is_two_calls_each_with_its_own_city() -> None:
    first, second = plan("What's the weather in Paris and in Tokyo?", "get_weather")
    assert first.tool is second.tool is WEATHER
    one = first.parameters["properties"]["city"]["enum"]
    two = second.parameters["properties"]["city"]["enum"]
    assert "Paris" in one and not any("Tokyo" in s for s in one)
    assert "Tokyo" in two and not any("Paris" in s for s in two)


def test_values_in_a_multiple_of_the_parameters_make_that_many_calls() -> None:
    calls = plan("Find the factorial of 5, 7 and 9.", "factorial")
    assert [c.parameters["properties"]["n"]["enum"] for c in calls] == [[5], [7], [9]]
    (gcd,) = plan("What is the GCD of 96 and 128?", "gcd")  # two numbers fill two parameters
    properties = gcd.parameters["properties"]
    assert (properties["a"]["enum"], properties["b"]["enum"]) == ([96], [128])  # in order


def test_clauses_routed_to_different_tools_are_calls_in_order() -> None:
    calls = plan("Find the GCD of 96 and 128, and the LCM of 15 and 25.", "gcd")
    assert [c.tool.name for c in calls] == ["gcd", "lcm"]
    assert calls[1].parameters["properties"]["b"]["enum"] == [25]  # its own, in order


def test_without_splitting_a_request_is_one_call_of_the_chosen_tool() -> None:
    shaping = CallShaping(split_intents=False)
    calls = plan("Find the GCD of 96 and 128, and the LCM of 15 and 25.", "gcd", shaping)
    assert [c.tool.name for c in calls] == ["gcd"]
    assert calls[0].parameters["properties"]["a"]["enum"] == [96, 128, 15, 25]


def test_an_enum_value_the_request_names_makes_its_optional_parameter_required() -> None:
    (call,) = plan("Weather in Oslo in Fahrenheit, with details please", "get_weather")
    props = call.parameters["properties"]
    assert call.parameters["required"] == ["city", "unit", "detailed"]
    assert props["unit"]["enum"] == ["fahrenheit"]
    (plain,) = plan("Weather in Oslo", "get_weather")
    assert plain.parameters["required"] == ["city"]
    assert list(plain.parameters["properties"]) == ["city"]  # unnamed optionals are left out
    (kept,) = plan("Weather in Oslo", "get_weather", CallShaping(omit_optional=False))
    assert kept.parameters["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]


def test_codes_and_formats_are_not_grounded() -> None:
    tool = schema_tool(
        "lookup",
        {
            "country_code": {"type": "string", "description": "ISO 3166 code"},
            "when": {"type": "string", "format": "date"},
            "expression": {"type": "string"},
            "ref": {"type": "string", "pattern": "^[A-Z]+$"},
            "place": {"type": "string"},
            "count": {"type": "integer", "minimum": 10},
        },
        ["country_code", "when", "expression", "ref", "place", "count"],
    )
    (call,) = plan_calls("Look up 2 + 3 for France, 12 times", [tool], "lookup",
                         lambda _: None, CallShaping())  # fmt: skip
    props = call.parameters["properties"]
    assert all("enum" not in props[k] for k in ("country_code", "when", "ref"))
    assert props["expression"]["enum"] == ["2 + 3"]  # the arithmetic as written, not a span
    assert "France" in props["place"]["enum"]
    assert props["count"]["enum"] == [12]  # 2 and 3 are below the minimum


def test_shaping_leaves_the_tools_own_schema_untouched() -> None:
    before = json.dumps(WEATHER.parameters, sort_keys=True)
    plan("Weather in Oslo in fahrenheit", "get_weather")
    assert json.dumps(WEATHER.parameters, sort_keys=True) == before


def test_off_plans_one_call_with_the_tools_own_parameters() -> None:
    (call,) = plan("Weather in Paris and in Tokyo", "get_weather", CallShaping.off())
    assert call.parameters == WEATHER.parameters


# -- the prompt's tool list -----------------------------------------------------------------------
def test_display_tool_drops_defaults_and_examples_of_grounded_strings() -> None:
    code = schema_tool("f", {"code": {"type": "string", "description": "ISO code, e.g. FR"}}, [])
    shown = display_tool(WEATHER)
    props = shown.parameters["properties"]
    assert props["city"]["description"] == "The city"
    assert "default" not in props["unit"]
    assert display_tool(code).parameters["properties"]["code"]["description"] == "ISO code, e.g. FR"
    assert display_tool(WEATHER) is shown  # one copy per tool: the prompt prefix stays stable
    assert WEATHER.parameters["properties"]["unit"]["default"] == "celsius"


# -- the grammar of a planned reply ---------------------------------------------------------------
def test_planned_grammar_holds_exactly_the_calls_in_order() -> None:
    calls = [c.call_schema() for c in plan("Find the factorial of 5, 7 and 9.", "factorial")]
    grammar = SmolLM2Format().planned_grammar(calls)
    assert grammar.startswith("start: call\n") and "answer" not in grammar
    assert '"minItems": 3' in grammar and '"maxItems": 3' in grammar and "prefixItems" in grammar
    blocks = HermesFormat().planned_grammar(calls)
    assert blocks.count("%json") == 3
    with pytest.raises(UsageError):
        SmolLM2Format().planned_grammar([])


@pytest.fixture(scope="module")
def tiny(tokenizer: Any) -> Any:
    pytest.importorskip("torch")
    pytest.importorskip("llguidance")
    from tests._tiny import PickRouter, tiny_local

    return tiny_local(tokenizer, router=PickRouter("get_weather"), max_new_tokens=160)


def test_a_routed_reply_holds_the_planned_calls_even_from_random_weights(tiny: Any) -> None:
    from tests._tiny import request_for

    text = "What's the weather in Paris and in Tokyo in fahrenheit?"
    reply = tiny.generate(request_for(tiny, text, tools=TOOLS))
    calls = tiny.format.parse(reply.text).calls
    assert [c.name for c in calls] == ["get_weather", "get_weather"]
    assert [c.arguments["unit"] for c in calls] == ["fahrenheit", "fahrenheit"]
    assert "Tokyo" not in calls[0].arguments["city"] and "Paris" not in calls[1].arguments["city"]
    assert all(c.arguments["city"] in text for c in calls)


def test_named_array_choices_lead_the_decoded_list_even_from_random_weights(
    tokenizer: Any,
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("llguidance")
    from tests._tiny import PickRouter, request_for, tiny_local

    finder = schema_tool(
        "find_shop",
        {"city": {"type": "string", "description": "The city."},
         "offers": {"type": "array", "items": {"type": "string",
                    "enum": ["Repairs", "Lessons", "Rentals"]}}},
        ["city", "offers"],
    )  # fmt: skip
    for seed in range(3):
        model = tiny_local(tokenizer, seed, router=PickRouter("find_shop"), max_new_tokens=80)
        reply = model.generate(
            request_for(model, "A shop in Oslo that gives lessons.", tools=[finder])
        )
        (call,) = model.format.parse(reply.text).calls
        offers = call.arguments["offers"]
        assert offers[0] == "Lessons" and "Lessons" not in offers[1:], offers
        assert set(offers) <= {"Repairs", "Lessons", "Rentals"}


def test_shaping_must_be_a_call_shaping(tokenizer: Any) -> None:
    pytest.importorskip("torch")
    from tests._tiny import tiny_local

    with pytest.raises(UsageError, match="CallShaping"):
        tiny_local(tokenizer, shaping="on")


def test_a_tool_that_needs_a_number_the_request_never_writes_is_not_called() -> None:
    assert plan("What is the history of the factorial?", "factorial") == []
    assert len(plan("What is the factorial of twenty-five?", "factorial")) == 1
    assert len(plan("What is the history of the factorial?", "factorial", CallShaping.off())) == 1


def test_an_unfillable_routed_request_is_answered_in_words(tokenizer: Any) -> None:
    pytest.importorskip("torch")
    from tests._tiny import PickRouter, request_for, tiny_local

    model = tiny_local(tokenizer, router=PickRouter("factorial"), max_new_tokens=12)
    reply = model.generate(request_for(model, "Who discovered factorials?", tools=TOOLS))
    assert model.format.parse(reply.text).calls == []


TRENDS = schema_tool(
    "trends", {"category": {"type": "string"}, "region": {"type": "string"}}, ["category", "region"]
)
ROUTE = schema_tool(
    "route", {"origin": {"type": "string"}, "destination": {"type": "string"}},
    ["origin", "destination"],
)  # fmt: skip


def test_a_call_repeating_one_value_in_two_free_texts_is_caught() -> None:
    from agentkit.models.shaping import PlannedCall, may_repeat, repeats_a_value

    call = PlannedCall(TRENDS, TRENDS.parameters, "")
    assert repeats_a_value(call, {"category": "New York", "region": " new  york"})
    assert not repeats_a_value(call, {"category": "rent", "region": "New York"})
    assert not repeats_a_value(call, {"category": "", "region": ""})  # nothing written twice
    dated = schema_tool(
        "stay", {"check_in": {"type": "string", "format": "date"},
                 "check_out": {"type": "string", "format": "date"}}, ["check_in", "check_out"],
    )  # fmt: skip
    assert not repeats_a_value(
        PlannedCall(dated, dated.parameters, ""),
        {"check_in": "2024-05-01", "check_out": "2024-05-01"},
    )
    assert may_repeat([call]) and not may_repeat([call, call]) and not may_repeat([])
    assert not may_repeat([PlannedCall(FACTORIAL, FACTORIAL.parameters, "")])


def generate_streamed(model: Any, text: str, tool: Tool) -> tuple[Any, list[str]]:
    """A routed turn of `model` for `text` with `tool`, and the text it streamed."""
    from tests._tiny import request_for

    streamed: list[str] = []
    reply = model.generate(request_for(model, text, tools=[tool]), on_text=streamed.append)
    return reply, streamed


def test_a_routed_call_repeating_a_value_becomes_a_text_answer(tokenizer: Any) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("llguidance")
    from tests._tiny import PickRouter, request_for, tiny_local

    model = tiny_local(tokenizer, router=PickRouter("trends"), max_new_tokens=24)
    # "technology" is the only span there is: both parameters would take it
    reply, streamed = generate_streamed(model, "technology", TRENDS)
    assert reply.calls == [] and "technology" not in reply.text.split('"')
    assert "".join(streamed) == reply.text  # the call was never shown
    assert reply.completion_tokens > len(reply.token_ids)  # the call's tokens are counted
    unshaped = tiny_local(
        tokenizer, router=PickRouter("trends"), max_new_tokens=24, shaping=CallShaping(ground=False)
    )
    assert unshaped.generate(request_for(unshaped, "technology", tools=[TRENDS])).calls is None


def test_a_routed_call_of_distinct_values_is_kept_and_shown_whole(tokenizer: Any) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("llguidance")
    from tests._tiny import PickRouter, tiny_local

    model = tiny_local(tokenizer, router=PickRouter("route"), max_new_tokens=40)
    reply, streamed = generate_streamed(model, "from Oslo to Rome", ROUTE)
    (call,) = model.format.parse(reply.text).calls
    assert call.arguments == {"origin": "Oslo", "destination": "Rome"}
    assert streamed == [reply.text]


def test_a_conjunct_writing_too_few_values_for_its_own_tool_adds_to_the_clause() -> None:
    speed = {"type": "integer"}
    kinematics = [
        schema_tool("displacement", {"u": speed, "a": speed, "t": speed}, ["u", "a", "t"]),
        schema_tool("final_speed", {"u": speed, "a": speed, "t": speed}, ["u", "a", "t"]),
    ]  # fmt: skip
    text = "The displacement of a car at 20 m/s and then accelerates at 10 m/s^2 for 5 seconds?"

    def route(part: str) -> str:
        return "final_speed" if "accelerates" in part else "displacement"

    (call,) = plan_calls(text, kinematics, "displacement", route, CallShaping())
    assert call.tool.name == "displacement"
    assert {k: v["enum"] for k, v in call.parameters["properties"].items()} == {
        "u": [20], "a": [10], "t": [5]
    }  # fmt: skip
    # each conjunct writing what its own tool needs stays a request of its own
    calls = plan("Give me the factorial of 5 and the weather in Oslo", "factorial")
    assert [c.tool.name for c in calls] == ["factorial", "get_weather"]


def test_an_email_or_phone_parameter_is_offered_only_spans_of_that_kind() -> None:
    tool = schema_tool(
        "send",
        {
            "to": {"type": "string", "description": "The recipient's email address"},
            "phone": {"type": "string"},
            "subject": {"type": "string", "description": "The email subject"},
        },
        ["to", "phone", "subject"],
    )
    text = "Email team@acme.io about 'Standup moved', and text +1 415 555 0134"
    (call,) = plan_calls(text, [tool], "send", lambda _: None, CallShaping())
    props = call.parameters["properties"]
    assert props["to"]["enum"] == ["team@acme.io"]
    assert all(any(ch.isdigit() for ch in s) for s in props["phone"]["enum"])
    assert "Standup moved" in props["subject"]["enum"]
    (free,) = plan_calls("Email Bob", [tool], "send", lambda _: None, CallShaping())
    assert "enum" not in free.parameters["properties"]["to"]  # no address written: free


def test_a_source_takes_what_follows_from_and_a_target_what_follows_to() -> None:
    tool = schema_tool(
        "route", {"origin": {"type": "string"}, "destination": {"type": "string"}},
        ["origin", "destination"],
    )  # fmt: skip
    text = "How far is it from San Luis Obispo to Santa Barbara by car?"
    (call,) = plan_calls(text, [tool], "route", lambda _: None, CallShaping())
    props = call.parameters["properties"]
    assert props["origin"]["enum"] == ["San Luis Obispo"]
    assert props["destination"]["enum"][-1] == "Santa Barbara"
    assert not any("Obispo" in s for s in props["destination"]["enum"])


def test_spans_keep_names_whole_and_skip_the_opening_verb() -> None:
    found = _values.spans("Book a room at the Harbor View Hotel for three nights.")
    assert "Harbor View Hotel" in found
    assert not {"Harbor", "Harbor View", "View Hotel", "Book a room"} & set(found)


def test_clauses_of_the_same_tool_are_one_intent() -> None:
    calls = plan("Will it rain in Seattle? Give me the weather for tomorrow.", "get_weather")
    assert len(calls) == 1


def test_every_clause_routed_to_one_tool_outvotes_the_whole_request_s_choice() -> None:
    place = {"type": "string"}
    route = schema_tool("route", {"start": place, "destination": place}, ["start", "destination"])
    club = schema_tool("chess_club", {"name": place, "city": place}, ["name", "city"])
    text = "What is the fastest route from London to Edinburgh for a chess championship? Also "
    text += "provide an estimate of the distance."

    def by_clause(part: str) -> str:
        return "route"

    (call,) = plan_calls(text, [route, club], "chess_club", by_clause, CallShaping())
    assert call.tool.name == "route"
    assert call.parameters["properties"]["start"]["enum"] == ["London"]
    # one clause alone does not outvote the whole request
    (call,) = plan_calls(text.split("?")[0] + "?", [route, club], "chess_club", by_clause,
                         CallShaping())  # fmt: skip
    assert call.tool.name == "chess_club"
    # nor one clause beside a clause routed to no tool

    def first_only(part: str) -> str | None:
        return "route" if "route" in part else None

    (call,) = plan_calls(text, [route, club], "chess_club", first_only, CallShaping())
    assert call.tool.name == "chess_club"


def test_names_varying_in_one_parameter_make_one_call_each() -> None:
    tool = schema_tool(
        "translate", {"text": {"type": "string"}, "target_language": {"type": "string"}},
        ["text", "target_language"],
    )  # fmt: skip
    text = "Translate 'good night' into German, Japanese and Portuguese."
    calls = plan_calls(text, [tool], "translate", lambda _: None, CallShaping())
    languages = [c.parameters["properties"]["target_language"]["enum"] for c in calls]
    assert len(calls) == 3
    assert ["German" in s for s in languages] == [True, False, False]
    assert all("good night" in c.parameters["properties"]["text"]["enum"] for c in calls)


def test_a_turn_routed_to_text_is_text_even_if_it_writes_a_call(tokenizer: Any) -> None:
    pytest.importorskip("torch")
    from agentkit import Agent
    from tests._tiny import PickRouter, request_for, tiny_local

    model = tiny_local(tokenizer, router=PickRouter(None), max_new_tokens=6)
    reply = model.generate(request_for(model, "Thanks!", tools=TOOLS))
    assert reply.calls == []  # no calls, whatever the text holds (a ```json block, say)
    result = Agent(model, tools=TOOLS, max_retries=0).run("Thanks!")
    assert result.output == reply.text and not result.tool_calls
    routed = tiny_local(tokenizer, router=PickRouter("factorial"), max_new_tokens=40)
    assert routed.generate(request_for(routed, "factorial of 5", tools=TOOLS)).calls is None


def test_a_reply_still_generating_when_its_reader_and_loop_are_gone_ends_quietly(
    tokenizer: Any,
) -> None:
    import asyncio
    import threading

    pytest.importorskip("torch")
    from tests._tiny import PickRouter, request_for, tiny_local

    model = tiny_local(tokenizer, router=PickRouter(None), max_new_tokens=400)
    errors: list[BaseException] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)  # type: ignore[assignment]

    async def first_delta() -> None:
        async for _ in model.stream(request_for(model, "Tell me a long story", tools=TOOLS)):
            return

    try:
        asyncio.run(first_delta())  # the loop closes while the worker may still be decoding
        for thread in threading.enumerate():
            if thread.name == "agentkit-generate":
                thread.join(timeout=30)
    finally:
        threading.excepthook = previous
    assert errors == []


FIND = schema_tool(
    "find", {"location": {"type": "string"}, "number": {"type": "integer"}}, ["location"]
)
MARKETS = schema_tool(
    "markets",
    {"indexes": {"type": "array", "items": {"type": "string"}}, "days": {"type": "integer"}},
    ["indexes", "days"],
)
MOVE = schema_tool("move", {"speed": {"type": "number"}, "seconds": {"type": "number"}}, ["speed"])


@pytest.mark.parametrize(
    ("text", "tool"),
    [
        ("Find 5 restaurants near my location, Manhattan, offering Thai food and a vegan menu.",
         FIND),
        ("Book a room in Paris, France for two adults.", FIND),
        ("Find the market performance of the S&P 500 and the Dow Jones over the past 5 days.",
         MARKETS),
        ("A car moving at 20 m/s and then accelerates at 10 m/s^2 for 5 seconds.", MOVE),
        ("Give me the company profile for Johnson & Johnson.", FIND),
        ("Weather in Oslo in Fahrenheit, with details please", WEATHER),
        ("I'm flying to Lisbon on Monday, and I need a room near the old town.", FIND),
        ("Hi, my name is Dana. Remove 'groceries' from my list.", FIND),
        ("Movies directed by Greta Gerwig and featuring Emma Stone in Boston.", FIND),
        ("A ride from 12 Elm Street, Austin, TX, and I can wait up to 10 minutes.", FIND),
        ("An object at 3.5 m/s^2 from rest, for 7 seconds.", MOVE),
        ("Weather in Denver between March and April, on a Friday.", WEATHER),
    ],
)  # fmt: skip
def test_values_that_are_not_a_list_stay_one_call(text: str, tool: Tool) -> None:
    calls = plan_calls(text, [tool, *TOOLS], tool.name, lambda _: tool.name, CallShaping())
    assert [c.tool.name for c in calls] == [tool.name]


AREA = schema_tool(
    "area", {"base": {"type": "number"}, "height": {"type": "number"}}, ["base", "height"]
)
PAIR = schema_tool(
    "exhibit", {"name": {"type": "string"}, "museum": {"type": "string"}}, ["name", "museum"]
)


@pytest.mark.parametrize(
    ("text", "tool", "count"),
    [
        ("Could you tell me the weather in Boston, MA and also in Denver?", WEATHER, 2),
        ("Weather for Lyon, France and for Kyoto, Japan.", WEATHER, 2),
        ("Weather in Chicago in fahrenheit, and in Berlin in celsius.", WEATHER, 2),
        ("I need the area of two triangles. The first triangle has a base of 12 and a height "
         "of 15. The second triangle has a base of 18 and a height of 24.", AREA, 2),
        ("Area for a base of 10 and a height of 4, then do the same calculation for a base of "
         "6 and a height of 3.", AREA, 2),
        ("Ana picked 36 and 48, Ben picked 60 and 96: the areas?", AREA, 2),
        ("Details of 'Sea Glass' at the Tate, and 'Iron Age' in the Met.", PAIR, 2),
        ("The factorial of 5, the factorial of 7, and the factorial of 9.", FACTORIAL, 3),
    ],
)  # fmt: skip
def test_groups_of_values_that_form_a_list_are_one_call_each(
    text: str, tool: Tool, count: int
) -> None:
    calls = plan_calls(text, [tool, *TOOLS], tool.name, lambda _: tool.name, CallShaping())
    assert [c.tool.name for c in calls] == [tool.name] * count


def test_each_call_of_a_list_keeps_a_name_it_shares_with_another() -> None:
    route = schema_tool(
        "distance", {"start": {"type": "string"}, "end": {"type": "string"}}, ["start", "end"]
    )
    text = "Drive from Dallas to Denver and then from Denver to Reno."
    first, second = plan_calls(text, [route], "distance", lambda _: "distance", CallShaping())
    assert "Denver" in first.parameters["properties"]["end"]["enum"]
    assert "Denver" in second.parameters["properties"]["start"]["enum"]
    assert "Reno" not in first.parameters["properties"]["end"]["enum"]


def test_exponents_are_not_numbers_of_the_request() -> None:
    assert [v.value for v in _values.numbers("3.5 m/s^2 for 7 s, x^3")] == [3.5, 7]


def test_scaled_numbers_are_read_whole_and_optional_numbers_stay_free() -> None:
    tool = schema_tool(
        "dividend",
        {
            "payout": {"type": "number"},
            "shares": {"type": "number"},
            "rounding": {"type": "integer"},
        },
        ["payout", "shares"],
    )
    text = "Dividend per share with 100 million shares and a payout of $50M?"
    (call,) = plan_calls(text, [tool], "dividend", lambda _: None, CallShaping())
    props = call.parameters["properties"]
    assert props["payout"]["enum"] == [50_000_000]  # "a payout of": the number named beside it
    assert props["shares"]["enum"] == [100_000_000]
    assert "rounding" not in props  # optional and not named: its default applies
    kept = plan_calls(text, [tool], "dividend", lambda _: None, CallShaping(omit_optional=False))
    assert "enum" not in kept[0].parameters["properties"]["rounding"]  # free, not grounded


def test_a_named_boolean_is_true_unless_negated() -> None:
    (call,) = plan("Weather in Oslo with details", "get_weather")
    assert call.parameters["properties"]["detailed"]["enum"] == [True]
    (call,) = plan("Weather in Oslo without details", "get_weather")
    assert call.parameters["properties"]["detailed"]["enum"] == [False]


def converter(name: str, of: str, unit: dict[str, Any]) -> Tool:
    """A tool converting a value from one `of` (currency, unit) to another, each `unit`."""
    properties = {"value": {"type": "number"}, f"from_{of}": unit, f"to_{of}": dict(unit)}
    return schema_tool(name, properties, list(properties))


def test_currency_and_language_codes_come_from_the_names_the_request_uses() -> None:
    convert = converter("convert", "currency", {"type": "string", "description": "Currency"})
    text = "How many Swiss francs do I get for 1,200 US dollars?"
    (call,) = plan_calls(text, [convert], "convert", lambda _: None, CallShaping())
    props = call.parameters["properties"]
    assert (props["from_currency"]["enum"], props["to_currency"]["enum"]) == (["USD"], ["CHF"])
    text = "I have 1,500 Canadian dollars. How much is that in euros?"
    (call,) = plan_calls(text, [convert], "convert", lambda _: None, CallShaping())
    props = call.parameters["properties"]
    assert (props["from_currency"]["enum"], props["to_currency"]["enum"]) == (["CAD"], ["EUR"])
    translate = schema_tool(
        "translate",
        {"text": {"type": "string"}, "target": {"type": "string", "description": "ISO 639-1 code"}},
        ["text", "target"],
    )
    (call,) = plan_calls("Translate 'thank you' to Japanese.", [translate], "translate",
                         lambda _: None, CallShaping())  # fmt: skip
    assert call.parameters["properties"]["target"]["enum"] == ["ja"]
    (free,) = plan_calls("Translate 'thank you'.", [translate], "translate",
                         lambda _: None, CallShaping())  # fmt: skip
    assert "enum" not in free.parameters["properties"]["target"]  # no language named: free


def test_a_number_goes_to_the_parameter_named_beside_it() -> None:
    (call,) = plan_calls(
        "A triangle with a height of 15 and a base of 12.", [AREA], "area", lambda _: None,
        CallShaping(),
    )  # fmt: skip
    properties = call.parameters["properties"]
    assert properties["base"]["enum"] == [12] and properties["height"]["enum"] == [15]
    fuel = schema_tool(
        "emissions",
        {"fuel_efficiency": {"type": "number"}, "efficiency_drop": {"type": "number"}},
        ["fuel_efficiency", "efficiency_drop"],
    )
    (call,) = plan_calls(
        "A car with a fuel efficiency of 25 MPG and a drop of 2 each year.", [fuel],
        "emissions", lambda _: None, CallShaping(),
    )  # fmt: skip
    assert call.parameters["properties"]["fuel_efficiency"]["enum"] == [25]
    assert call.parameters["properties"]["efficiency_drop"]["enum"] == [2]


def test_a_span_goes_to_the_parameter_named_before_it() -> None:
    sculpture = schema_tool(
        "sculpture",
        {"artist": {"type": "string"}, "title": {"type": "string"}},
        ["artist", "title"],
    )
    (call,) = plan_calls(
        "Find the size of the sculpture with title 'David' by Michelangelo.", [sculpture],
        "sculpture", lambda _: None, CallShaping(),
    )  # fmt: skip
    properties = call.parameters["properties"]
    assert "David" in properties["title"]["enum"]
    assert all(s.startswith("David") for s in properties["title"]["enum"])
    assert (
        "Michelangelo" in properties["artist"]["enum"]
        and "David" not in properties["artist"]["enum"]
    )


def test_a_span_is_bound_to_a_parameter_only_when_written_as_its_value() -> None:
    scores = schema_tool(
        "scores", {"team": {"type": "string"}, "league": {"type": "string"}}, ["team", "league"]
    )
    text = "The scores of the Manchester United soccer team in the English Premier League"
    (call,) = plan_calls(text, [scores], "scores", lambda _: None, CallShaping())
    # "team in the English Premier League": the league is where the team plays, not its name
    assert "Manchester United" in call.parameters["properties"]["team"]["enum"]
    flight = schema_tool(
        "flight", {"airline": {"type": "string"}, "flight_class": {"type": "string"}},
        ["airline", "flight_class"],
    )  # fmt: skip
    text = "I fly with Delta Airlines in business class. What is the total flight cost?"
    (call,) = plan_calls(text, [flight], "flight", lambda _: None, CallShaping())
    # "flight cost": a word after the parameter's own word, not a value written for it
    assert "business" in call.parameters["properties"]["flight_class"]["enum"]
    (named,) = plan_calls(
        "Find the team called 'Rovers' in the Northern League", [scores], "scores",
        lambda _: None, CallShaping(),
    )  # fmt: skip
    assert named.parameters["properties"]["team"]["enum"] == ["Rovers"]


def test_lists_in_brackets_for_a_tool_taking_one_list_are_a_call_each() -> None:
    average = schema_tool(
        "average", {"numbers": {"type": "array", "items": {"type": "integer"}}}, ["numbers"]
    )
    text = "The first set is [23, 45, 67], the second is [12, 34] and the third [9, 8, 7]."
    calls = plan_calls(text, [average], "average", lambda _: None, CallShaping())
    assert [c.parameters["properties"]["numbers"]["enum"] for c in calls] == [
        [[23, 45, 67]], [[12, 34]], [[9, 8, 7]]
    ]  # fmt: skip
    (one,) = plan_calls("The mean of [1, 2, 3] is [2]?", [average], "average", lambda _: None,
                        CallShaping())  # fmt: skip
    assert one.parameters["properties"]["numbers"]["enum"] == [[1, 2, 3]]
    pair = schema_tool(
        "dot", {"x": {"type": "array", "items": {"type": "number"}},
                "y": {"type": "array", "items": {"type": "number"}}}, ["x", "y"],
    )  # fmt: skip
    assert (
        len(plan_calls("Dot [1, 2] with [3, 4]", [pair], "dot", lambda _: None, CallShaping())) == 1
    )


def test_a_list_of_names_then_a_name_for_another_parameter_is_a_call_per_listed_name() -> None:
    news = schema_tool(
        "news", {"topic": {"type": "string"}, "quantity": {"type": "integer"},
                 "region": {"type": "string"}}, ["topic", "quantity"],
    )  # fmt: skip
    text = (
        'Fetch the latest news on the topic of "Climate Change" and "Artificial Intelligence", '
        'each with 5 articles, and specifically for the region "Europe".'
    )
    calls = plan_calls(text, [news], "news", lambda _: None, CallShaping())
    topics = [c.parameters["properties"]["topic"]["enum"] for c in calls]
    assert len(calls) == 2
    assert "Climate Change" in topics[0] and "Artificial Intelligence" not in topics[0]
    # a call is not offered some words of another call's name ("Climate" of "Climate Change")
    assert "Artificial Intelligence" in topics[1] and not any("Climate" in t for t in topics[1])
    assert [c.parameters["properties"]["quantity"]["enum"] for c in calls] == [[5], [5]]


def test_a_formula_parameter_is_offered_the_formula_written_in_python_and_as_written() -> None:
    calculus = [
        schema_tool("integral", {"function": {"type": "string"}, "a": {"type": "number"},
                                 "b": {"type": "number"}}, ["function", "a", "b"]),
        schema_tool("derivative", {"function": {"type": "string"}, "x": {"type": "number"},
                                   "function_variable": {"type": "string"}},
                    ["function", "x", "function_variable"]),
    ]  # fmt: skip
    text = "The area under the curve from x=1 to x=5 for f(x)=x^2. And the derivative at x=3."
    calls = plan_calls(
        text, calculus, "integral", lambda p: "derivative" if "derivative" in p else "integral",
        CallShaping(),
    )  # fmt: skip
    offered = [c.parameters["properties"]["function"]["enum"] for c in calls]
    assert offered == [["x**2", "x^2"], ["x**2", "x^2"]]  # the second reads the whole request
    # a variable of the function is no formula
    assert "x**2" not in calls[1].parameters["properties"]["function_variable"].get("enum", [])
    text = "The derivative of '3x^2 + 2x - 1' at 2, then of '5y^3 - 4y + 2' at 3."
    both = plan_calls(text, calculus[1:], "derivative", lambda _: "derivative", CallShaping())
    assert [c.parameters["properties"]["function"]["enum"][0] for c in both] == [
        "3x**2 + 2x - 1", "5y**3 - 4y + 2"
    ]  # fmt: skip


def test_a_value_after_a_parameter_word_and_a_generic_noun_is_bound() -> None:
    case = schema_tool(
        "case", {"docket": {"type": "string"}, "court": {"type": "string"}}, ["docket", "court"]
    )
    text = "A case with docket number '12345' in the 'Supreme Court'."
    (call,) = plan_calls(text, [case], "case", lambda _: None, CallShaping())
    assert call.parameters["properties"]["docket"]["enum"] == ["12345"]
    assert "Supreme Court" in call.parameters["properties"]["court"]["enum"]


def test_an_optional_string_given_a_quoted_value_after_its_word_is_surfaced() -> None:
    moves = schema_tool(
        "pokemon.get_moves", {"pokemon": {"type": "string"}, "move": {"type": "string"}},
        ["pokemon"],
    )  # fmt: skip
    (call,) = plan_calls(
        "Can Bulbasaur learn a move named 'Solar Beam'?", [moves], "pokemon.get_moves",
        lambda _: None, CallShaping(),
    )  # fmt: skip
    assert call.parameters["required"] == ["pokemon", "move"]
    assert call.parameters["properties"]["move"]["enum"] == ["Solar Beam"]
    (plain,) = plan_calls(
        "What moves can a Pikachu learn?", [moves], "pokemon.get_moves", lambda _: None,
        CallShaping(),
    )  # fmt: skip
    assert plain.parameters["required"] == ["pokemon"]


def test_an_optional_string_whose_example_the_request_writes_is_surfaced() -> None:
    kind = {"type": "string", "description": "Type of the lawsuit, e.g., 'IPR', 'Patent'."}
    lawsuits = schema_tool(
        "lawsuits", {"company": {"type": "string"}, "year": {"type": "integer"}, "kind": kind},
        ["company", "year"],
    )  # fmt: skip
    text = "Find patent lawsuits involving the company 'Apple Inc.' from 2010."
    (call,) = plan_calls(text, [lawsuits], "lawsuits", lambda _: None, CallShaping())
    assert call.parameters["required"] == ["company", "year", "kind"]
    assert call.parameters["properties"]["kind"]["enum"] == ["Patent", "patent"]
    # a request that writes none of the examples leaves the parameter out
    text = "Find lawsuits involving the company 'Apple Inc.' from 2010."
    (plain,) = plan_calls(text, [lawsuits], "lawsuits", lambda _: None, CallShaping())
    assert "kind" not in plain.parameters["properties"]
    # an example of two letters is no evidence ("in" beside "e.g. 'IN'")
    state = {"type": "string", "description": "The state, e.g. 'IN', 'OH'."}
    shops = schema_tool("shops", {"city": {"type": "string"}, "state": state}, ["city"])
    (call,) = plan_calls("Shops in Gary", [shops], "shops", lambda _: None, CallShaping())
    assert "state" not in call.parameters["properties"]


def test_a_power_of_ten_is_read_with_its_number() -> None:
    force = schema_tool(
        "force", {"charge": {"type": "number"}, "permittivity": {"type": "number"}},
        ["charge", "permittivity"],
    )  # fmt: skip
    (call,) = plan_calls(
        "A charge of 5 coulombs in a medium with a permittivity of 8.854 x 10^-12 F/m.",
        [force], "force", lambda _: None, CallShaping(),
    )  # fmt: skip
    assert call.parameters["properties"]["permittivity"]["enum"] == [8.854e-12]


def test_a_number_set_by_the_parameter_s_exact_name_goes_to_it() -> None:
    number = {"type": "integer"}
    quadratic = schema_tool("quadratic", {"a": number, "b": number, "c": number}, ["a", "b", "c"])
    (call,) = plan_calls(
        "The first one has coefficients a = 2, b = 5, and c = 3.", [quadratic], "quadratic",
        lambda _: None, CallShaping(),
    )  # fmt: skip
    offered = {k: v["enum"] for k, v in call.parameters["properties"].items()}
    assert offered == {"a": [2], "b": [5], "c": [3]}


def test_a_span_that_is_another_parameter_s_choice_is_not_offered_to_a_string() -> None:
    concerts = schema_tool(
        "concerts", {"genre": {"type": "string"}, "amenities": {"type": "array", "items": {
            "type": "string", "enum": ["Parking", "VIP Seating"]}}}, ["genre", "amenities"],
    )  # fmt: skip
    (call,) = plan_calls(
        "Classical concerts, only those with parking", [concerts], "concerts", lambda _: None,
        CallShaping(),
    )  # fmt: skip
    genres = call.parameters["properties"]["genre"]["enum"]
    assert "parking" not in genres and "Classical" in genres


def test_a_power_of_ten_out_of_range_is_no_number_of_its_own() -> None:
    import math

    # "1e999" overflowed a float and raised before; now it is read without its power
    values = [v.value for v in _values.numbers("1e999 and 5 x 10^-999 and 2e3")]
    assert all(math.isfinite(float(v)) for v in values) and 2000 in values


FORECAST = schema_tool("forecast", {"city": {"type": "string"}}, ["city"])
AIR = schema_tool("air_quality", {"city": {"type": "string"}}, ["city"])
EMAIL = schema_tool(
    "email", {"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}},
    ["to", "subject", "body"],
)  # fmt: skip
CALENDAR = schema_tool("calendar", {"title": {"type": "string"}}, ["title"])


def word_route(text: str) -> str | None:
    lowered = text.lower()
    for word, name in (("air", "air_quality"), ("forecast", "forecast"), ("email", "email"),
                       ("body", "calendar")):  # fmt: skip
        if word in lowered:
            return name
    return None


def test_conjuncts_routed_to_different_tools_are_separate_calls() -> None:
    tools = [FORECAST, AIR, EMAIL, CALENDAR]
    calls = plan_calls(
        "Give me the forecast for Oslo and the air quality there.", tools, "forecast",
        word_route, CallShaping(),
    )  # fmt: skip
    assert [c.tool.name for c in calls] == ["forecast", "air_quality"]
    calls = plan_calls(
        "Email ann@example.com with the subject 'Lunch' and the body 'See you at noon'.", tools,
        "email", word_route, CallShaping(),
    )  # fmt: skip
    assert [c.tool.name for c in calls] == ["email"]  # "the body ..." is an argument of it
    assert _values.conjuncts("Pick a number between 1 and 100") == [
        "Pick a number between 1 and 100"
    ]


def test_each_call_of_a_list_takes_the_enum_value_its_own_part_names() -> None:
    first, second = plan(
        "Weather in Chicago in fahrenheit, and in Berlin in celsius.", "get_weather"
    )
    assert first.parameters["properties"]["unit"]["enum"] == ["fahrenheit"]
    assert second.parameters["properties"]["unit"]["enum"] == ["celsius"]


def one_call(text: str, tool: Tool) -> dict[str, Any]:
    (call,) = plan_calls(text, [tool], tool.name, lambda _: None, CallShaping())
    properties: dict[str, Any] = call.parameters["properties"]
    return properties


def test_a_required_enum_takes_the_units_the_request_names_source_and_target() -> None:
    units = ["mm", "cm", "m", "km", "in", "ft", "mi", "ml", "cup"]
    convert = converter("convert", "unit", {"type": "string", "enum": units})
    props = one_call("Convert 5km to miles.", convert)
    assert (props["from_unit"]["enum"], props["to_unit"]["enum"]) == (["km"], ["mi"])
    props = one_call("How many milliliters is 3.5 cups?", convert)  # the target comes first
    assert (props["from_unit"]["enum"], props["to_unit"]["enum"]) == (["cup"], ["ml"])
    props = one_call("Convert 12 parsecs into something else", convert)
    assert props["from_unit"]["enum"] == units  # nothing named: the schema's own values
    scale = schema_tool(
        "temp",
        {"value": {"type": "number"}, "to": {"type": "string", "enum": ["C", "F", "K"]}},
        ["value", "to"],
    )
    assert one_call("Turn 20°C into Fahrenheit", scale)["to"]["enum"] == ["F"]
    assert one_call("Put 20 in the oven", scale)["to"]["enum"] == ["C", "F", "K"]  # no "in"


def test_unit_symbols_and_tickers_come_from_the_names_the_request_uses() -> None:
    symbol = {"type": "string", "description": "Symbol of the unit, e.g. 'kg'."}
    convert = converter("convert_units", "unit", symbol)
    first, second = plan_calls(
        "Convert 5 km to miles and 3 kg to pounds.", [convert], "convert_units",
        lambda _: None, CallShaping(),
    )  # fmt: skip
    assert [first.parameters["properties"][k]["enum"] for k in ("from_unit", "to_unit")] == [
        ["km"], ["mi"]
    ]  # fmt: skip
    assert [second.parameters["properties"][k]["enum"] for k in ("from_unit", "to_unit")] == [
        ["kg"], ["lb"]
    ]  # fmt: skip
    quote = schema_tool(
        "quote", {"symbol": {"type": "string", "description": "The stock's ticker symbol"}},
        ["symbol"],
    )  # fmt: skip
    calls = plan_calls(
        "What are Microsoft, Amazon and Tesla trading at?", [quote], "quote", lambda _: None,
        CallShaping(),
    )  # fmt: skip
    assert [c.parameters["properties"]["symbol"]["enum"] for c in calls] == [
        ["MSFT"], ["AMZN"], ["TSLA"]
    ]  # fmt: skip
    assert "enum" not in one_call("What is Zorblax Corp trading at?", quote)["symbol"]


def test_a_path_parameter_takes_the_paths_the_request_writes() -> None:
    listing = schema_tool(
        "list_directory",
        {"path": {"type": "string", "description": "Directory path"}},
        ["path"],
    )
    assert one_call("List the files in /var/log, hidden ones included.", listing)["path"][
        "enum"
    ] == ["/var/log"]
    assert one_call("Open notes.txt please", listing)["path"]["enum"] == ["notes.txt"]
    assert "enum" not in one_call("List my downloads folder", listing)["path"]


def test_a_description_that_lists_choices_is_an_enum() -> None:
    assert _values.options("Options are 'Standard', 'Deluxe', 'Suite'.") == [
        "Standard", "Deluxe", "Suite"
    ]  # fmt: skip
    assert _values.options("The city, e.g. 'Paris' or 'Tokyo'.") == []
    assert _values.options("A single 'quoted' word") == []
    book = schema_tool(
        "hotel_booking",
        {
            "city": {"type": "string"},
            "room_type": {
                "type": "string",
                "description": "Room type, default 'Standard'. Options are 'Standard', 'Suite'.",
            },
            "display_format": {"type": "string", "description": "Either '12h' or '24h'."},
        },
        ["city"],
    )
    props = one_call("Book a room in Paris", book)
    assert "room_type" in props  # named by its own word: one of the choices, not a guess
    assert props["room_type"]["enum"] == ["Standard", "Suite"]
    assert one_call("Book a suite in Paris", book)["room_type"]["enum"] == ["Suite"]
    assert "display_format" not in props  # neither named nor chosen: left out


def test_a_word_of_the_tools_name_or_another_parameter_names_no_optional_string() -> None:
    cook = schema_tool(
        "calculate_cooking_time",
        {
            "weight_kg": {"type": "number"},
            "cooking_method": {"type": "string"},
            "fuel_efficiency": {"type": "number"},
            "efficiency_note": {"type": "string"},
        },
        ["weight_kg"],
    )
    props = one_call("How long to cook a 1.5 kg chicken at this efficiency?", cook)
    assert "cooking_method" not in props  # "cook" names the tool
    assert "efficiency_note" not in props  # "efficiency" is fuel_efficiency's word too
    assert "fuel_efficiency" in props  # numbers are still named by their own words


def test_numbers_left_unclaimed_go_to_the_parameters_in_order() -> None:
    quadratic = schema_tool(
        "solve",
        {"a": {"type": "number"}, "b": {"type": "number"}, "c": {"type": "number"}},
        ["a", "b", "c"],
    )
    props = one_call("Roots of the quadratic with coefficients 2, 3 and -4?", quadratic)
    assert [props[k]["enum"] for k in "abc"] == [[2], [3], [-4]]


def test_a_number_after_a_name_is_part_of_it_but_not_after_a_month() -> None:
    found = [v.text for v in _values.names("Play Maroon 5 and Blink 182 from March 10")]
    assert found == ["Maroon 5", "Blink 182", "March"]


def test_one_name_parameter_beside_other_strings_makes_a_call_per_name() -> None:
    concerts = schema_tool(
        "find_concerts",
        {
            "location": {"type": "string", "description": "The city."},
            "genre": {"type": "string"},
            "date": {"type": "string"},
        },
        ["location", "genre", "date"],
    )
    calls = plan_calls(
        "Find classical concerts near Berlin and Paris next Friday.", [concerts],
        "find_concerts", lambda _: None, CallShaping(),
    )  # fmt: skip
    assert [c.parameters["properties"]["location"]["enum"][0] for c in calls] == [
        "Berlin", "Paris"
    ]  # fmt: skip
    route = schema_tool(
        "distance",
        {"start_city": {"type": "string"}, "end_city": {"type": "string"}},
        ["start_city", "end_city"],
    )
    assert len(plan_calls(
        "The distance between Berlin and Paris", [route], "distance", lambda _: None,
        CallShaping(),
    )) == 1  # fmt: skip


def test_a_string_is_not_offered_the_number_or_the_names_of_its_own_call() -> None:
    thermostat = schema_tool(
        "set_thermostat",
        {"room": {"type": "string"}, "temperature": {"type": "number"}},
        ["room", "temperature"],
    )
    offered = one_call("Set the living room thermostat to 21.5 degrees.", thermostat)["room"]
    assert "living room" in offered["enum"]
    assert not {"21.5", "21.5 degrees", "room", "thermostat", "degrees"} & set(offered["enum"])
    area = schema_tool(
        "triangle_area",
        {"base": {"type": "number"}, "height": {"type": "number"}, "unit": {"type": "string"}},
        ["base", "height", "unit"],
    )
    offered = one_call("Area of a triangle with a base of 10 units and height 5", area)["unit"]
    assert "units" in offered["enum"]  # a unit's own word is its value
    booking = schema_tool(
        "book", {"address": {"type": "string"}, "rating": {"type": "number"}},
        ["address", "rating"],
    )  # fmt: skip
    offered = one_call("A table near 123 Main Street with a rating of 4.5", booking)["address"]
    assert "123 Main Street" in offered["enum"]  # 123 is no number parameter's


def test_dates_and_times_are_offered_in_the_format_the_parameter_asks_for() -> None:
    booking = schema_tool(
        "book",
        {
            "from_date": {"type": "string", "description": "Check-in, MM-DD-YYYY."},
            "to_date": {"type": "string", "description": "Check-out, MM-DD-YYYY."},
            "time": {"type": "string", "description": "Arrival time, HH:MM (24-hour)."},
            "note": {"type": "string", "description": "Free text."},
        },
        ["from_date", "to_date", "time", "note"],
    )
    props = one_call("Book from July 10, 2022 to the 20th of July 2022, arriving 6:30 pm", booking)
    assert props["from_date"]["enum"] == ["07-10-2022"]
    assert props["to_date"]["enum"] == ["07-20-2022"]
    assert props["time"]["enum"] == ["18:30"]
    assert not any("6:30" in s or "pm" in s.split() or "July" in s for s in props["note"]["enum"])
    props = one_call("Book something next Friday", booking)
    assert "enum" not in props["from_date"]  # no date written out: free
    assert [t.value for t in _values.times("at 13pm, 25:00 or 9:75")] == []
    assert _values.dates("on 31 February 2025") == []


MEAN = schema_tool("mean", {"numbers": {"type": "array", "items": {"type": "number"}}}, ["numbers"])
STOCK = schema_tool(
    "grocery", {"products": {"type": "array", "items": {"type": "string"}}}, ["products"]
)


def test_an_array_takes_the_list_the_request_writes() -> None:
    props = one_call("Average 3, 9 and 12, then round it.", MEAN)
    assert props["numbers"]["enum"] == [[3, 9, 12]]
    props = one_call("Stores with 'milk', 'bread', and 'eggs' in stock near Paris.", STOCK)
    assert props["products"]["enum"] == [["milk", "bread", "eggs"]]
    props = one_call("Average 3 of them, maybe 7", MEAN)  # no list written: items stay free
    assert "enum" not in props["numbers"]


def test_a_written_list_is_decoded_whole_even_from_random_weights(tokenizer: Any) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("llguidance")
    from tests._tiny import PickRouter, request_for, tiny_local

    model = tiny_local(tokenizer, router=PickRouter("mean"), max_new_tokens=120)
    reply = model.generate(request_for(model, "What is the mean of 3, 9 and 12?", tools=[MEAN]))
    (call,) = model.format.parse(reply.text).calls
    assert call.arguments == {"numbers": [3, 9, 12]}


def test_a_possessive_names_its_owner() -> None:
    assert [v.text for v in _values.names("Albert Einstein's work and Ronaldo's goals")] == [
        "Albert Einstein", "Ronaldo"
    ]  # fmt: skip
    assert "Ronaldo" in _values.spans("Ronaldo's matches in 2021")


def test_a_code_the_request_cannot_fill_makes_the_tool_unfillable() -> None:
    quote = schema_tool(
        "quote", {"symbol": {"type": "string", "description": "The stock's ticker symbol"}},
        ["symbol"],
    )  # fmt: skip
    assert plan_calls("Explain what a stock split is.", [quote], "quote", lambda _: None,
                      CallShaping()) == []  # fmt: skip
    assert len(plan_calls("How is Zorblax doing today?", [quote], "quote", lambda _: None,
                          CallShaping())) == 1  # a name that may be a company  # fmt: skip
    translate = schema_tool(
        "translate",
        {
            "text": {"type": "string"},
            "target_lang": {"type": "string", "description": "ISO 639-1 language code"},
        },
        ["text", "target_lang"],
    )
    assert plan_calls("Which languages are spoken in Switzerland?", [translate], "translate",
                      lambda _: None, CallShaping()) == []  # fmt: skip
    (call,) = plan_calls("Say 'hi' in Klingon", [translate], "translate", lambda _: None,
                         CallShaping())  # fmt: skip
    assert "enum" not in call.parameters["properties"]["target_lang"]
    sentiment = schema_tool(
        "sentiment",
        {"text": {"type": "string"}, "language": {"type": "string", "description": "ISO code"}},
        ["text", "language"],
    )  # the review's own language, not a target to name
    assert plan_calls("Analyze the sentiment of this review: great food", [sentiment],
                      "sentiment", lambda _: None, CallShaping())  # fmt: skip


def test_the_verb_that_opens_a_request_names_no_parameter() -> None:
    email = schema_tool(
        "compose_email",
        {"to": {"type": "string"}, "send_at": {"type": "string"}},
        ["to"],
    )
    assert "send_at" not in one_call("Send an email to ann@example.com", email)
    assert "send_at" in one_call("Email ann@example.com and send it at noon", email)


def test_an_expression_takes_the_arithmetic_the_request_writes() -> None:
    calculator = schema_tool(
        "calculator", {"expression": {"type": "string", "description": "Math expression"}},
        ["expression"],
    )  # fmt: skip
    props = one_call("What's 15% of 80, plus 12?", calculator)
    assert props["expression"]["enum"] == ["0.15 * 80 + 12"]
    props = one_call("Calculate (48 + 12) / 7.5 for me", calculator)
    assert props["expression"]["enum"] == ["(48 + 12) / 7.5"]
    assert "enum" not in one_call("Solve the puzzle on page 3", calculator)["expression"]
    assert _values.expression("Dates like 2025-08-05 are no sums") is None


@pytest.mark.parametrize(
    ("kind", "piece"), [("url", "a-"), ("email", "a."), ("path", "a-"), ("phone", "1 ")]
)
def test_values_of_a_kind_are_found_in_linear_time(kind: str, piece: str) -> None:
    import time

    from agentkit.models._arguments import _of_kind

    def seconds(text: str) -> float:
        start = time.perf_counter()
        _of_kind(kind, {"type": "string"}, text)
        return time.perf_counter() - start

    short, long = piece * 600, piece * 4800  # 8 times the text: 64 times the time if quadratic
    assert seconds(long) < 24 * max(seconds(short), 0.002)


def test_a_huge_enum_is_read_only_as_far_as_its_bound() -> None:
    from agentkit.models import _codes

    values = [f"plan_{i}" for i in range(2 * _codes.MAX_ENUM_VALUES)]
    text = "Switch me to plan 3, or else plan 900. " * 50
    assert [c.code for c in _codes.enum_mentions(text, values)] == ["plan_3"]  # 900: unread
    inner = _codes.enum_mentions("premium economy, please", ["economy", "premium_economy"])
    assert [c.code for c in inner] == ["premium_economy"]  # "economy" is inside a longer one


# -- instances, varied lists and lists of choices --------------------------------------------------
FALL = schema_tool(
    "final_speed",
    {
        "initial_velocity": {"type": "integer", "description": "The initial velocity."},
        "height": {"type": "integer", "description": "The height it is dropped from."},
        "gravity": {"type": "number", "description": "The gravitational acceleration."},
    },
    ["initial_velocity", "height"],
)
FORCE = schema_tool(
    "force",
    {
        "charge1": {"type": "integer", "description": "The magnitude of the first charge."},
        "charge2": {"type": "integer", "description": "The magnitude of the second charge."},
        "distance": {"type": "integer", "description": "The distance between them."},
    },
    ["charge1", "charge2", "distance"],
)
SPEED = schema_tool(
    "speed", {"distance": {"type": "integer"}, "time": {"type": "integer"}}, ["distance", "time"]
)
BEATS = schema_tool(
    "beats",
    {"capture_percentage": {"type": "integer"}, "window_size": {"type": "number"}},
    ["capture_percentage", "window_size"],
)
GROWTH = schema_tool(
    "compound_interest",
    {"principal": {"type": "number"}, "rate": {"type": "number"}, "years": {"type": "integer"}},
    ["principal", "rate", "years"],
)
GENOTYPE = schema_tool(
    "genotype_frequency",
    {
        "allele_frequency": {"type": "number"},
        "genotype": {"type": "string", "enum": ["AA", "Aa", "aa"]},
    },
    ["allele_frequency", "genotype"],
)
BUS = schema_tool(
    "find_bus",
    {"city": {"type": "string"}, "category": {"type": "string", "enum": ["direct", "one-stop"]}},
    ["city"],
)


def calls_of(text: str, tool: Tool) -> list[dict[str, Any]]:
    planned = plan_calls(text, [tool], tool.name, lambda _: tool.name, CallShaping())
    assert all(c.tool.name == tool.name for c in planned)
    return [c.parameters["properties"] for c in planned]


def test_instances_a_word_problem_describes_are_one_call_each() -> None:
    first, second = calls_of(
        "Two objects were dropped. The first object had an initial velocity of 0 m/s and was "
        "dropped from a height of 10 meters. The second object had an initial velocity of 5 "
        "m/s and a height of 20 meters. With gravity at 9.8 m/s^2, what is the final speed of "
        "both objects?",
        FALL,
    )
    assert first["height"]["enum"] == [10] and second["height"]["enum"] == [20]
    assert 5 not in first["initial_velocity"]["enum"] and 0 not in second["height"]["enum"]
    assert first["gravity"]["enum"] == second["gravity"]["enum"] == [9.8]  # shared by both


def test_a_second_instance_without_a_first_opens_the_request() -> None:
    calls = calls_of(
        "A car covers a distance of 500 meters in 25 seconds. Now, consider a second car that "
        "covers a distance of 900 meters in 30 seconds. What is the speed of the second car? "
        "Finally, a third car covers a distance of 40 meters in 8 seconds.",
        SPEED,
    )
    assert [c["distance"]["enum"] for c in calls] == [[500], [900], [40]]


def test_ordinals_that_name_parameters_and_half_filled_sentences_stay_one_call() -> None:
    assert len(calls_of(
        "The first charge has a magnitude of 5 and the second charge has a magnitude of 10. "
        "The second charge sits at a distance of 2 from the first.", FORCE
    )) == 1  # fmt: skip
    assert len(calls_of(
        "Filter out the beats with a confidence below 50%. Also, use a 0.5-second window.",
        BEATS,
    )) == 1  # fmt: skip


def test_sentences_that_ask_again_with_all_their_values_are_one_call_each() -> None:
    calls = calls_of(
        "What is the speed of a car that traveled a distance of 500 meters in 25 seconds? "
        "Also, what is the speed of a bicycle that traveled a distance of 1000 meters in 200 "
        "seconds? Lastly, a train traveled a distance of 10000 meters in 600 seconds.",
        SPEED,
    )
    assert [(c["distance"]["enum"], c["time"]["enum"]) for c in calls] == [
        ([500], [25]),
        ([1000], [200]),
        ([10000], [600]),
    ]


def test_a_list_that_varies_one_value_shares_the_others() -> None:
    ten, twenty = calls_of(
        "What does $1,000 become at 5% a year after 10 years, and after 20 years?", GROWTH
    )
    assert ten["years"]["enum"] == [10] and twenty["years"]["enum"] == [20]
    assert 1000 in ten["principal"]["enum"] and 1000 in twenty["principal"]["enum"]


@pytest.mark.parametrize(
    "text",
    [
        "Its principal, rate and years are 5 units, 4 units and 3 units.",
        "Growth from 2018 to 2019: in 2018 it was $500,000 and in 2019, $750,000.",
        "Grow $1,000 at 5% and 3% for 10 years.",
    ],
)
def test_values_not_varied_as_a_list_stay_one_call(text: str) -> None:
    assert len(calls_of(text, GROWTH)) == 1


def test_a_list_of_an_enums_values_is_one_call_per_value() -> None:
    calls = calls_of(
        "The dominant allele's frequency is 0.7. What is the frequency of the homozygous "
        "dominant genotype (AA), heterozygous genotype (Aa), and homozygous recessive "
        "genotype (aa)?",
        GENOTYPE,
    )
    assert [c["genotype"]["enum"] for c in calls] == [["AA"], ["Aa"], ["aa"]]
    assert len(calls_of("A bus to Reno, either direct or one-stop.", BUS)) == 1
    assert len(calls_of("A bus to Reno, whether it is direct or has one stop.", BUS)) == 1


def test_while_joins_two_groups_of_values() -> None:
    first, second = calls_of("John chose 36 and 48, while Mary chose 60 and 96.", GCD)
    assert first["a"]["enum"] == [36] and second["b"]["enum"] == [96]


def test_a_tool_needing_more_numbers_than_the_request_writes_is_not_called() -> None:
    roots = schema_tool(
        "find_roots",
        {"a": {"type": "number"}, "b": {"type": "number"}, "c": {"type": "number"}},
        ["a", "b", "c"],
    )
    route = lambda _: "find_roots"  # noqa: E731
    assert plan_calls("What are the roots of bx + c = 0?", [roots], "find_roots", route,
                      CallShaping()) == []  # fmt: skip
    assert len(plan_calls("Roots of 2x^2 + 3x + 1 = 0 with a=2, b=3, c=1", [roots],
                          "find_roots", route, CallShaping())) == 1  # fmt: skip


def test_an_array_of_choices_takes_the_list_of_choices_the_request_names() -> None:
    directions = schema_tool(
        "directions",
        {
            "start": {"type": "string"},
            "avoid": {
                "type": "array",
                "items": {"type": "string", "enum": ["tolls", "highways", "ferries"]},
            },
        },
        ["start"],
    )
    (call,) = calls_of("Directions from Leeds avoiding highways and toll roads.", directions)
    assert "avoid" in call  # surfaced: the request names its values
    assert call["avoid"]["enum"] == [["highways", "tolls"]]
    (call,) = calls_of("Directions from Leeds, please, no ferries.", directions)
    assert call["avoid"]["prefixItems"] == [{"const": "ferries"}]  # named: it comes first,
    assert call["avoid"]["items"]["enum"] == ["tolls", "highways"]  # then maybe others
    assert call["avoid"]["minItems"] == 1
    (call,) = calls_of("Directions from Leeds.", directions)
    assert "avoid" not in call


def test_spans_never_cut_a_quoted_text() -> None:
    found = _values.spans("Stats for the Weapon 'Guardian Sword+' in 'Breath of the Wild'.")
    assert "Guardian Sword+" in found and "Breath of the Wild" in found
    assert not any(s.count("'") % 2 for s in found)  # no "Weapon 'Guardian Sword+"


def test_a_word_of_another_parameters_name_alone_is_no_value() -> None:
    case = schema_tool(
        "get_case_info",
        {"docket": {"type": "string"}, "court": {"type": "string"},
         "info_type": {"type": "string", "description": "What to retrieve of the case."}},
        ["docket", "court", "info_type"],
    )  # fmt: skip
    (call,) = calls_of("Who was the victim in the case docket numbered 2022/AL2562?", case)
    assert "docket" not in call["info_type"]["enum"] and "victim" in call["info_type"]["enum"]


def test_parameters_claiming_the_same_numbers_are_offered_the_rest_in_turn() -> None:
    growth = schema_tool(
        "yoy_growth",
        {"year1": {"type": "integer"}, "year1_revenue": {"type": "integer"},
         "year2": {"type": "integer"}, "year2_revenue": {"type": "integer"}},
        ["year1", "year1_revenue", "year2", "year2_revenue"],
    )  # fmt: skip
    (call,) = calls_of("Growth with revenues of $1M in 2019 and $1.2M in 2020?", growth)
    assert 1200000 in call["year2_revenue"]["enum"]
    assert 1000000 in call["year1_revenue"]["enum"]
    # years go to the year parameters, amounts to the others, each sibling its own in turn
    assert call["year1"]["enum"] == [2019] and call["year2"]["enum"] == [2020]
    assert call["year1_revenue"]["enum"] == [1000000]
    assert call["year2_revenue"]["enum"] == [1200000]


def test_a_request_of_many_values_is_read_for_lists_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentkit.models import _parallel

    checked = 0
    listed = _parallel._same_role

    def counting(*args: Any) -> bool:
        nonlocal checked
        checked += 1
        return listed(*args)

    monkeypatch.setattr(_parallel, "_same_role", counting)
    many = schema_tool("t", {f"n{i}": {"type": "number"} for i in range(60)}, ["n0", "n1", "n2"])
    calls_of(", ".join(str(i) for i in range(400)), many)  # was 6,229 checks, 24 s
    assert checked < 100


def test_a_list_of_more_groups_than_a_reply_may_hold_is_cut_to_the_bound() -> None:
    text = "The factorial of " + ", ".join(str(i) for i in range(1, 12)) + " and 12."
    calls = calls_of(text, FACTORIAL)  # raised StopIteration before
    assert [c["n"]["enum"] for c in calls] == [[i] for i in range(1, 9)]


def test_a_span_speaking_of_another_parameter_is_not_offered() -> None:
    scale = schema_tool(
        "scale_progression",
        {"key": {"type": "string"}, "tempo": {"type": "integer"}, "duration": {"type": "integer"}},
        ["key", "tempo", "duration"],
    )
    (call,) = calls_of("A major C scale progression with tempo 80 BPM and duration 4 beats.", scale)
    assert not any("tempo" in s or "duration" in s for s in call["key"]["enum"])
    assert "major C scale progression" in call["key"]["enum"]


# -- values read as the schema asks ----------------------------------------------------------------
def test_a_percentage_is_read_as_the_parameter_asks() -> None:
    loan = schema_tool(
        "loan",
        {"principal": {"type": "number"},
         "rate_percent": {"type": "number", "description": "Yearly rate in percent, e.g. 5.25."},
         "apr": {"type": "number", "description": "The annual rate as a decimal."},
         "growth_rate": {"type": "number", "description": "The annual growth rate."},
         "tip": {"type": "number", "description": "The tip."}},
        ["principal", "rate_percent", "apr", "growth_rate", "tip"],
    )  # fmt: skip
    (call,) = calls_of("Borrow $2,000 at 6.5% (5% APR) with 4% growth and a 15% tip", loan)
    assert 0.065 not in call["rate_percent"]["enum"] and 6.5 in call["rate_percent"]["enum"]
    assert 0.05 in call["apr"]["enum"] and not {5, 6.5, 4} & set(call["apr"]["enum"])
    assert 0.04 in call["growth_rate"]["enum"] and 4 not in call["growth_rate"]["enum"]
    assert {15, 0.15} <= set(call["tip"]["enum"])  # the tip says neither: both stay


def test_a_percentage_in_a_list_is_read_as_the_array_asks() -> None:
    fitness = schema_tool(
        "fitness",
        {"weights": {"type": "array", "items": {"type": "number"},
                     "description": "The percentage weights, which must sum to 1."}},
        ["weights"],
    )  # fmt: skip
    (call,) = calls_of("Weights of 40% and 60%.", fitness)
    assert call["weights"]["items"]["enum"] == [0.4, 0.6]


def test_siblings_take_values_in_turn_only_when_each_is_written_once() -> None:
    triangle = schema_tool(
        "triangle",
        {"side1": {"type": "integer"}, "side2": {"type": "integer"}, "side3": {"type": "integer"}},
        ["side1", "side2", "side3"],
    )  # fmt: skip
    (call,) = calls_of("Its three sides are 5 units, 4 units and 3 units long.", triangle)
    assert all(len(call[f"side{i}"]["enum"]) == 3 for i in (1, 2, 3))  # "three" is a 3 too


DERIVATIVE = schema_tool(
    "derivative",
    {"function": {"type": "string", "description": "The function."},
     "value": {"type": "integer", "description": "Where to take it."}},
    ["function", "value"],
)  # fmt: skip


def test_numbers_inside_a_formula_are_the_formulas() -> None:
    (call,) = calls_of("The derivative of the function 3x^2 + 2x - 1 at x = 4.", DERIVATIVE)
    assert call["value"]["enum"] == [4]
    text = "solve 2x + 3 = 7 at 5 m/s and 5km, x^2 at 3"
    assert [text[a:b] for a, b in _values.formulas(text)] == ["2x + 3", "x^2"]


def test_dates_glued_to_their_month_and_a_short_year_format_are_read() -> None:
    uv = schema_tool(
        "uv_index",
        {"date": {"type": "string", "description": "The date, in the format MM-DD-YYY."}},
        ["date"],
    )  # fmt: skip
    (call,) = calls_of("The UV index for Tokyo tomorrow, June01 2023.", uv)
    assert call["date"]["enum"] == ["06-01-2023"]


def test_a_description_example_the_request_writes_is_the_value() -> None:
    scorers = schema_tool(
        "top_scorers",
        {"competition": {"type": "string",
                         "description": "The competition (for example, 'UEFA Champions League')."},
         "team": {"type": "string", "description": "The team (for example, 'Barcelona')."},
         "taste": {"type": "string", "description": "The taste, e.g. 'bitter'."}},
        ["competition", "team", "taste"],
    )  # fmt: skip
    (call,) = calls_of(
        "The top scorers in the UEFA Champions League from Barcelona team, a slightly bitter taste",
        scorers,
    )
    assert call["competition"]["enum"] == ["UEFA Champions League"]
    assert call["team"]["enum"] == ["Barcelona"]
    assert call["taste"]["enum"] == ["slightly bitter", "bitter"]
    assert _values.examples("A city like Paris or Rome.") == ["Paris", "Rome"]


def test_an_unnamed_choice_takes_its_default_and_a_named_flag_its_own_clause() -> None:
    hotel = schema_tool(
        "book_hotel",
        {"city": {"type": "string"},
         "room_type": {"type": "string", "default": "Standard",
                       "description": "The room. Options are 'Standard', 'Deluxe', 'Suite'."},
         "want_year": {"type": "boolean", "default": False},
         "monitoring": {"type": "boolean"},
         "power_saving": {"type": "boolean"},
         "pets": {"type": "boolean", "default": True}},
        ["city", "want_year", "monitoring", "power_saving", "pets"],
    )  # fmt: skip
    (call,) = calls_of(
        "Book a hotel room in Paris, with air monitoring, disable the power-saving mode, "
        "and in which year?",
        hotel,
    )
    assert call["room_type"]["enum"] == ["Standard"]  # "room" names it, no value does
    assert call["want_year"]["enum"] == [True]
    assert call["monitoring"]["enum"] == [True] and call["power_saving"]["enum"] == [False]
    assert call["pets"]["enum"] == [True]  # unnamed: its default


def test_each_instance_reads_its_own_flag() -> None:
    lawsuit = schema_tool(
        "lawsuit",
        {"case_number": {"type": "string"}, "with_verdict": {"type": "boolean"}},
        ["case_number", "with_verdict"],
    )  # fmt: skip
    first, second = calls_of(
        "Two lawsuits. The first one has case number '12345'. I would like the verdict "
        "details for it. The second one has case number '67890'. I do not need the verdict.",
        lawsuit,
    )
    assert first["with_verdict"]["enum"] == [True] and second["with_verdict"]["enum"] == [False]


def test_a_span_never_ends_on_a_preposition() -> None:
    assert "acoustic instrument within" not in _values.spans("an acoustic instrument within $1000")


def test_a_day_is_offered_as_written_and_is_no_place() -> None:
    concerts = schema_tool(
        "find_concerts",
        {"location": {"type": "string", "description": "The city."},
         "date": {"type": "string", "description": "The date of the concert."},
         "cuisine": {"type": "string", "description": "Cuisine, e.g. Italian, Japanese etc."}},
        ["location", "date", "cuisine"],
    )  # fmt: skip
    (call,) = calls_of(
        "Italian dinner and concerts near Berlin next Friday, and I am interested in parking.",
        concerts,
    )
    assert call["location"]["enum"] == ["Berlin"] and call["date"]["enum"] == ["next Friday"]
    assert call["cuisine"]["enum"] == ["Italian"]
    spans = _values.spans("concerts next Friday, and I want parking")
    assert not any("Friday, and" in s for s in spans) and "next Friday" in spans


def test_a_span_never_begins_with_a_sequence_word_or_i_am() -> None:
    found = _values.spans("Secondly, I'm a big fan of basketball.")
    assert "big fan of basketball" in found
    assert not any(s.startswith(("Secondly", "I'm")) for s in found)


def test_a_number_glued_to_k_is_kelvin_for_a_temperature_and_thousands_otherwise() -> None:
    heat = schema_tool(
        "heat_capacity",
        {"temp": {"type": "integer", "description": "The temperature."},
         "runners": {"type": "integer", "description": "How many run."}},
        ["temp", "runners"],
    )  # fmt: skip
    (call,) = calls_of("Heat capacity of air at 298K with 3K runners.", heat)
    assert call["temp"]["enum"] == [298] and call["runners"]["enum"] == [3000]


def test_the_numbers_of_formulas_do_not_split_calls() -> None:
    first, second = calls_of(
        "The derivative of the function '3x^2 + 2x - 1' at the value of 2, then the derivative "
        "of the function '5y^3 - 4y + 2' at the value of 3.",
        DERIVATIVE,
    )
    assert first["value"]["enum"] == [2] and second["value"]["enum"] == [3]


def test_a_request_of_few_very_long_words_is_read_to_a_bound() -> None:
    # "1+1+...+1" is one word: its 100,000 numbers took 27 s to plan before the bound
    assert len(_values.numbers("1+" * 100_000)) <= _values.MAX_CHARS


# -- several tools in one request -----------------------------------------------------------------
def stats_tool(name: str) -> Tool:
    data = {"type": "array", "items": {"type": "number"}, "description": "The data points."}
    return schema_tool(f"stats.{name}", {"data": data}, ["data"], f"The {name} of numbers.")


STATS = [stats_tool("mean"), stats_tool("range"), stats_tool("median")]
DROP = schema_tool(
    "fall.speed",
    {"height": {"type": "number"}, "mass": {"type": "number"}},
    ["height", "mass"],
    "The speed of a falling object.",
)
DROP_TIME = schema_tool(
    "fall.duration",
    {"height": {"type": "number"}, "mass": {"type": "number"}},
    ["height", "mass"],
    "How long an object falls.",
)
COUNTRY = [
    schema_tool(f"country.{n}", {"country": {"type": "string"}}, ["country"], f"A country's {n}.")
    for n in ("anthem", "currency", "language")
]


def name_route(text: str) -> str | None:
    """Routes to the tool whose last name word the text uses (first found)."""
    lowered = text.lower()
    for tool in [*STATS, DROP, DROP_TIME, *COUNTRY]:
        word = tool.name.rsplit(".", 1)[-1]
        if word in lowered or (word == "duration" and "how long" in lowered):
            return tool.name
    return None


def test_a_comma_then_a_new_question_is_a_new_request() -> None:
    calls = plan_calls(
        "What is the anthem of Chile, what is the currency of Peru, and what is the language "
        "of Brazil?", COUNTRY, "country.anthem", name_route, CallShaping(),
    )  # fmt: skip
    assert [c.tool.name for c in calls] == [
        "country.anthem",
        "country.currency",
        "country.language",
    ]
    assert [c.parameters["properties"]["country"]["enum"] for c in calls] == [
        ["Chile"], ["Peru"], ["Brazil"]
    ]  # fmt: skip


def test_a_list_of_what_to_compute_is_one_call_per_tool_it_names() -> None:
    calls = plan_calls(
        "Find the mean and range for the data points 3,4,5,8. Also find the median of "
        "these points.", STATS, "stats.mean", name_route, CallShaping(),
    )  # fmt: skip
    assert [c.tool.name for c in calls] == ["stats.mean", "stats.range", "stats.median"]
    for call in calls:  # each reads the data points, written once
        assert [3, 4, 5, 8] in call.parameters["properties"]["data"]["enum"]


def test_a_conjunct_naming_a_parameter_and_no_tool_of_its_own_stays_an_argument() -> None:
    calls = plan_calls(
        "Find the mean of 3 and 4 and the data points 5 and 6.", STATS, "stats.mean",
        lambda text: "stats.range" if "data" in text else name_route(text), CallShaping(),
    )  # fmt: skip
    assert [c.tool.name for c in calls] == ["stats.mean"]


def test_a_request_that_refers_back_reads_the_values_written_before() -> None:
    calls = plan_calls(
        "How fast does an object with a mass of 2 kg fall from a height of 45 m? Also, how long "
        "does the object fall?", [DROP, DROP_TIME], "fall.speed",
        lambda text: "fall.duration" if "how long" in text.lower() else "fall.speed",
        CallShaping(),
    )  # fmt: skip
    assert [c.tool.name for c in calls] == ["fall.speed", "fall.duration"]
    second = calls[1].parameters["properties"]
    assert second["height"]["enum"] == [45] and second["mass"]["enum"] == [2]
    alone = plan_calls(  # nothing refers back: a tool its part cannot fill is not called
        "How fast does an object with a mass of 2 kg fall from a height of 45 m? Also, how long "
        "is a year on Mars?", [DROP, DROP_TIME], "fall.speed",
        lambda text: "fall.duration" if "how long" in text.lower() else "fall.speed",
        CallShaping(),
    )  # fmt: skip
    assert [c.tool.name for c in alone] == ["fall.speed"]


def test_a_new_sentence_asking_the_same_again_is_another_call() -> None:
    worth = schema_tool(
        "net_worth",
        {"name": {"type": "string", "description": "The full name of the celebrity."},
         "currency": {"type": "string", "description": "The currency."}},
        ["name", "currency"],
    )  # fmt: skip
    first, second = calls_of(
        "What is the net worth of the singer Adele in Euros? After that, I would like to know "
        "the net worth of the actor Tom Hanks in Yen.",
        worth,
    )
    assert "Adele" in first["name"]["enum"] and "Tom Hanks" not in first["name"]["enum"]
    assert "Tom Hanks" in second["name"]["enum"] and "Adele" not in second["name"]["enum"]


def test_each_call_of_a_list_takes_the_array_choices_its_own_part_names() -> None:
    finder = schema_tool(
        "restaurant_finder",
        {"city": {"type": "string"}, "cuisine": {"type": "string"},
         "features": {"type": "array", "description": "Extra features.",
                      "items": {"type": "string", "enum": ["Vegan", "Delivery", "Parking"]}}},
        ["city", "cuisine"],
    )  # fmt: skip
    first, second = calls_of(
        "Find a Thai restaurant in Lima with vegan dishes and a Greek restaurant in Quito that "
        "offers delivery.",
        finder,
    )
    assert first["features"]["prefixItems"] == [{"const": "Vegan"}]
    assert first["features"]["items"]["enum"] == ["Parking"]  # never named: may follow
    assert second["features"]["prefixItems"] == [{"const": "Delivery"}]
    assert second["features"]["items"]["enum"] == ["Parking"]


def test_array_choices_named_lead_and_the_rest_may_follow() -> None:
    library = schema_tool(
        "find_library",
        {"city": {"type": "string"},
         "services": {"type": "array", "items": {"type": "string",
                      "enum": ["Violin Lessons", "Piano Lessons"]}},
         "instruments": {"type": "array", "items": {"type": "string",
                         "enum": ["Guitars", "Violins", "Pianos"]}}},
        ["city", "services", "instruments"],
    )  # fmt: skip
    (call,) = calls_of("A guitar shop in Oslo that also gives violin lessons.", library)
    assert call["instruments"]["prefixItems"] == [{"const": "Guitars"}]  # "violin" is a lesson's
    assert call["services"]["prefixItems"] == [{"const": "Violin Lessons"}]
    assert call["services"]["items"]["enum"] == ["Piano Lessons"]
    (call,) = calls_of("A shop in Oslo with guitars, violins and pianos.", library)
    assert call["instruments"]["enum"] == [["Guitars", "Violins", "Pianos"]]  # a list: exactly
    assert "prefixItems" not in call["instruments"]


MUSEUM = schema_tool(
    "exhibition",
    {"name": {"type": "string"},
     "visitors": {"type": "array", "items": {"type": "string", "enum": ["adult", "child"]}}},
    ["name", "visitors"],
)  # fmt: skip


def test_every_choice_named_leaves_no_other_to_follow() -> None:
    (call,) = calls_of("Tickets for 'Deep Time', one adult; the child goes free.", MUSEUM)
    assert call["visitors"]["prefixItems"] == [{"const": "adult"}, {"const": "child"}]
    assert call["visitors"]["maxItems"] == 2


def test_an_irregular_plural_names_its_choice() -> None:
    (call,) = calls_of("Prices of 'Deep Time' for children and adults.", MUSEUM)
    assert call["visitors"]["enum"] == [["child", "adult"]]


def test_calls_without_a_choice_in_their_part_take_those_the_request_names() -> None:
    aspects = {"type": "array", "items": {"type": "string", "enum": ["overview", "date"]}}
    battle = schema_tool("battle_info", {"battle": {"type": "string"}, "aspects": aspects},
                         ["battle", "aspects"])  # fmt: skip
    treaty = schema_tool("treaty_info", {"treaty": {"type": "string"}, "aspects": aspects},
                         ["treaty", "aspects"])  # fmt: skip
    planned = plan_calls(
        "An overview of the Battle of Hastings, and also of the Treaty of Paris.",
        [battle, treaty],
        "battle_info",
        lambda text: "treaty_info" if "Treaty" in text else "battle_info",
        CallShaping(),
    )
    assert [c.tool.name for c in planned] == ["battle_info", "treaty_info"]
    for call in planned:
        assert call.parameters["properties"]["aspects"]["prefixItems"] == [{"const": "overview"}]


def test_a_day_is_no_free_text_but_a_date() -> None:
    concerts = schema_tool(
        "find_concerts",
        {"city": {"type": "string", "description": "The city."},
         "date": {"type": "string", "description": "The date."},
         "genre": {"type": "string", "description": "The genre of music."}},
        ["city", "date", "genre"],
    )  # fmt: skip
    (call,) = calls_of("Jazz concerts in Lyon next Friday", concerts)
    assert not {"Friday", "next Friday"} & set(call["genre"]["enum"])
    assert "next Friday" in call["date"]["enum"]
    (call,) = calls_of("A concert in Lyon next Friday titled Weekend", concerts)
    assert "Weekend" in call["genre"]["enum"]  # a word of the calendar, not a day


def test_a_description_of_what_the_tool_does_is_no_code() -> None:
    schedule = schema_tool(
        "team_schedule",
        {"team": {"type": "string", "description": "The team."},
         "league": {"type": "string", "description": "The league. If not given, the function "
                    "will fetch the games of every league."}},
        ["team", "league"],
    )  # fmt: skip
    (call,) = calls_of("The next games of Ajax in the Eredivisie", schedule)
    assert "Eredivisie" in call["league"]["enum"]  # grounded, not left free as a code


def test_a_lowercase_list_of_examples_names_the_value_the_request_writes() -> None:
    recipe = schema_tool(
        "find_recipe",
        {"diet": {"type": "string", "description": "Diet, e.g. vegan, vegetarian, keto."},
         "course": {"type": "string", "description": "Course, e.g. dessert, main course."}},
        ["diet", "course"],
    )  # fmt: skip
    (call,) = calls_of("I am looking for a vegan main course recipe for tonight.", recipe)
    assert call["diet"]["enum"] == ["vegan"]
    assert "main course" in call["course"]["enum"] and "tonight" not in call["course"]["enum"]


def test_a_quoted_text_of_two_sentences_is_never_cut_into_clauses() -> None:
    text = "Analyse the text 'I had a good day. The sun was out.', then book a table."
    assert _values.clauses(text) == [
        "Analyse the text 'I had a good day. The sun was out.'",
        "book a table.",
    ]
    whole = '"Find the factorial of 5. Then the GCD of 4 and 6."'  # a whole request in quotes
    assert len(_values.clauses(whole)) == 2


def test_quoted_dates_and_ordinal_openers_are_no_names_to_split_on() -> None:
    hotel = schema_tool(
        "check_hotel",
        {"city": {"type": "string", "description": "The city."},
         "check_in": {"type": "string", "description": "Check-in date, YYYY-MM-DD."},
         "check_out": {"type": "string", "description": "Check-out date, YYYY-MM-DD."},
         "adults": {"type": "integer"}},
        ["city", "check_in", "check_out", "adults"],
    )  # fmt: skip
    calls = calls_of(
        "Second, check hotels in 'Oslo' for the check-in date '2024-10-15' and check-out date "
        "'2024-10-20' for 2 adults.",
        hotel,
    )
    assert len(calls) == 1
    assert "2024-10-15" in calls[0]["check_in"]["enum"]


def test_a_follow_up_that_only_points_back_is_more_of_the_intent_before_it() -> None:
    def route(text: str) -> str | None:  # a router that sends the follow-up elsewhere
        return "country.currency" if "fetch" in text else name_route(text)

    calls = plan_calls(
        "What is the anthem of Chile? Could you fetch that for me? Then the language of Peru.",
        COUNTRY, "country.anthem", route, CallShaping(),
    )  # fmt: skip
    assert [c.tool.name for c in calls] == ["country.anthem", "country.language"]


def test_a_string_filled_by_its_own_example_leaves_the_names_to_split_on() -> None:
    mass = schema_tool(
        "particle_mass",
        {"particle": {"type": "string", "description": "The particle, e.g. Electron."},
         "unit": {"type": "string", "description": "The unit, for example 'kg', 'amu'."}},
        ["particle", "unit"],
    )  # fmt: skip
    first, second = calls_of("What is the mass of Muon and Pion in atomic mass unit (amu)?", mass)
    assert "Muon" in first["particle"]["enum"] and "Pion" not in first["particle"]["enum"]
    assert "Pion" in second["particle"]["enum"] and "Muon" not in second["particle"]["enum"]
    assert first["unit"]["enum"] == second["unit"]["enum"] == ["amu"]


def test_a_closing_recap_of_tools_asked_for_with_values_adds_no_calls() -> None:
    calls = plan_calls(
        "What is the mean of 3,4,5? Also the range of 7,9,11. Can you find the mean and the "
        "range for me?", STATS, "stats.mean", name_route, CallShaping(),
    )  # fmt: skip
    assert [c.tool.name for c in calls] == ["stats.mean", "stats.range"]


def test_a_later_question_of_lowercase_words_is_no_recap() -> None:
    calls = plan_calls(
        "What is the anthem of Chile? Also, what is the anthem of a small island nation?",
        COUNTRY, "country.anthem", name_route, CallShaping(split_intents=True),
    )  # fmt: skip
    assert [c.tool.name for c in calls] == ["country.anthem"]  # one intent, as before
    calls = plan_calls(
        "What is the anthem of the moon? Also the currency of Peru. And the anthem of Chile.",
        COUNTRY, "country.anthem", name_route, CallShaping(),
    )  # fmt: skip
    assert [c.tool.name for c in calls] == [
        "country.anthem", "country.currency", "country.anthem"
    ]  # fmt: skip


def test_a_required_string_whose_description_lists_choices_takes_one_of_them() -> None:
    stocks = schema_tool(
        "stock_info",
        {"company": {"type": "string", "description": "The company."},
         "level": {"type": "string", "description": "Detail. Can be 'summary' or 'detailed'."}},
        ["company", "level"],
    )  # fmt: skip
    (call,) = calls_of("Give me information about stocks of Apple Inc.", stocks)
    assert call["level"]["enum"] == ["summary", "detailed"]  # no span of the request
    (call,) = calls_of("A summary of the stocks of Apple Inc.", stocks)
    assert call["level"]["enum"] == ["summary"]


def test_a_number_left_no_value_takes_the_default_its_description_states() -> None:
    light = schema_tool(
        "light_travel_time",
        {"distance_in_light_years": {"type": "integer", "description": "The distance."},
         "speed_of_light": {"type": "integer",
                            "description": "In m/s. Default value is 299792458 m/s."}},
        ["distance_in_light_years", "speed_of_light"],
    )  # fmt: skip
    (call,) = calls_of("How long does light take from a star 4 light years away?", light)
    assert call["distance_in_light_years"]["enum"] == [4]  # a tie on "light": not the default's
    assert call["speed_of_light"]["enum"] == [299792458]


def test_a_species_is_no_proper_name() -> None:
    genetics = schema_tool(
        "calculate_ne",
        {"species": {"type": "string", "description": "The species of wild animal."},
         "generations": {"type": "integer"}},
        ["species", "generations"],
    )  # fmt: skip
    (call,) = calls_of(
        "The minimum population size (Ne) of a wild tiger population for 100 generations",
        genetics,
    )
    assert "wild tiger" in call["species"]["enum"]


def test_examples_after_a_colon_are_no_choices() -> None:
    weather = schema_tool(
        "get_weather",
        {"city": {"type": "string", "description": "The city as 'City, State'. Examples: "
                  "'San Francisco, CA' or 'Paris, FR'."}},
        ["city"],
    )  # fmt: skip
    (call,) = calls_of("The weather in San Pablo, CA tomorrow", weather)
    assert "San Francisco, CA" not in call["city"].get("enum", [])


def test_a_choice_is_named_by_a_distinctive_first_word() -> None:
    library = schema_tool(
        "find_library",
        {"city": {"type": "string"},
         "wants": {"type": "array", "items": {"type": "string",
                   "enum": ["Pet-friendly", "Disabled Access", "Cafe Inside", "Study Rooms",
                            "Study Carrels"]}}},
        ["city", "wants"],
    )  # fmt: skip
    (call,) = calls_of(
        "A pet-friendly library in Oslo with facilities for disabled people", library
    )
    assert call["wants"]["prefixItems"] == [{"const": "Pet-friendly"}, {"const": "Disabled Access"}]
    (call,) = calls_of("A pet-friendly library in Oslo where I can study", library)
    assert call["wants"]["prefixItems"] == [{"const": "Pet-friendly"}]  # "study" begins two


def test_a_choice_ending_in_ed_is_named_by_its_stem() -> None:
    stocks = schema_tool(
        "stock_info",
        {
            "company": {"type": "string"},
            "level": {"type": "string", "enum": ["summary", "detailed"]},
        },
        ["company", "level"],
    )
    (call,) = calls_of("Give me detail information about stocks of Apple Inc.", stocks)
    assert call["level"]["enum"] == ["detailed"]


def test_a_name_holding_a_word_of_the_parameters_name_is_its_value() -> None:
    schedule = schema_tool(
        "team_schedule",
        {"team_name": {"type": "string", "description": "The team."},
         "league": {"type": "string", "description": "The league."}},
        ["team_name", "league"],
    )  # fmt: skip
    (call,) = calls_of("The next 6 games of Manchester United in the Premier League", schedule)
    assert call["league"]["enum"] == ["Premier League"]
    assert "Manchester United" in call["team_name"]["enum"]


def test_a_clause_naming_one_of_two_sibling_tools_asks_that_one() -> None:
    def store(name: str) -> Tool:
        return schema_tool(
            f"{name}.vegan_products",
            {"location": {"type": "string"},
             "categories": {"type": "array", "items": {"type": "string",
                            "enum": ["vegan", "gluten-free"]}}},
            ["location", "categories"],
        )  # fmt: skip

    walmart, wholefoods = store("walmart"), store("wholefoods")
    planned = plan_calls(
        "Get me a list of available vegetarian and gluten-free foods at the Walmart near Denver.",
        [wholefoods, walmart],
        "walmart.vegan_products",
        lambda text: "walmart.vegan_products" if "Walmart" in text else "wholefoods.vegan_products",
        CallShaping(),
    )
    assert [c.tool.name for c in planned] == ["walmart.vegan_products"]


def test_a_country_takes_the_country_an_adjective_of_nationality_names() -> None:
    history = schema_tool(
        "key_events",
        {"country": {"type": "string", "description": "The country."},
         "start_year": {"type": "integer"}},
        ["country", "start_year"],
    )  # fmt: skip
    (call,) = calls_of("Key events in German history from 1871", history)
    assert call["country"]["enum"][0] == "Germany" and "German" not in call["country"]["enum"]


def test_a_nested_range_takes_its_bounds_in_order() -> None:
    homes = schema_tool(
        "find_homes",
        {"city": {"type": "string"}, "bedrooms": {"type": "integer"},
         "budget": {"type": "object", "properties": {"min": {"type": "number"},
                                                     "max": {"type": "number"}}}},
        ["city", "bedrooms", "budget"],
    )  # fmt: skip
    (call,) = calls_of("A 3 bedroom villa within $300,000 to $400,000 in San Diego", homes)
    budget = call["budget"]
    assert budget["properties"]["min"]["enum"] == [300000]
    assert budget["properties"]["max"]["enum"] == [400000]
    assert budget["required"] == ["min", "max"]
    (call,) = calls_of("A 3 bedroom villa for $300,000 in San Diego", homes)
    assert "required" not in call["budget"]  # no range written: the bounds stay optional


def test_blank_and_odd_choices_plan_without_error() -> None:
    odd = schema_tool(
        "odd",
        {"city": {"type": "string"},
         "tags": {"type": "array", "items": {"type": "string",
                  "enum": [" ", "  ", "", "Disabled Access", "x y", 3]}},
         "budget": {"type": "object", "properties": {"min": {"type": "number"},
                    "max": {"type": "number", "description": "Default is 1e999999"}}}},
        ["city", "tags", "budget"],
    )  # fmt: skip
    (call,) = calls_of("A disabled friendly place in Oslo from 9 to 5, x y", odd)
    assert call["tags"]["prefixItems"] == [{"const": "x y"}, {"const": "Disabled Access"}]


def test_a_request_naming_the_provider_of_a_tool_alike_the_choice_asks_that_one() -> None:
    genre = {"genre": {"type": "string"}}
    google = schema_tool("google.books_search", genre, ["genre"])
    library = schema_tool("library.search_books", {"city": {"type": "string"}, **genre}, ["genre"])
    planned = plan_calls(
        "Can I find a historical fiction book at the New York public library?",
        [google, library],
        "google.books_search",
        lambda _: "google.books_search",
        CallShaping(),
    )
    assert [c.tool.name for c in planned] == ["library.search_books"]
    numbers = {"current": {"type": "number"}, "distance": {"type": "number"}}
    biot = schema_tool("electromagnetism.biot_savart_law", numbers, ["current", "distance"])
    ampere = schema_tool("electromagnetism.ampere_law", numbers, ["current", "distance"])
    planned = plan_calls(
        "The magnetic field at 8 meters from a current of 12 Amperes",
        [biot, ampere],
        "electromagnetism.biot_savart_law",
        lambda _: "electromagnetism.biot_savart_law",
        CallShaping(),
    )
    assert [c.tool.name for c in planned] == ["electromagnetism.biot_savart_law"]  # a unit
