"""Words for values and facts, in English and Dutch: the only place explanations become sentences.

A fact is one recorded test (``medicine.atc matches N05B*``) with its outcome; its sentence uses
the case field's wording from the schema, a definition's or decision's own sentence, or, for
anything else, the test as the rule file writes it. A choice's code is said in the schema's words
for it (``nasal`` → "nasaal"); the JSON keeps the codes (:func:`json_value`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from types import MappingProxyType
from decimal import Decimal

from rxpolicy.engine.compile import CompiledPolicy
from rxpolicy.engine.meta import RuleMeta
from rxpolicy.engine.trace import Fact
from rxpolicy.language import ast
from rxpolicy.language.check import SymbolKind
from rxpolicy.language import types as t
from rxpolicy.language.types import Kind, Type
from rxpolicy.language.values import Duration, Rounding, SupplyLimit, Unit, format_money, is_money, number_text

__all__ = ["LANGUAGES", "SentenceMaker", "declared_type", "fact_sentence", "interpretations", "layer_text", "leaf_sentence_makers",
           "leap_day_text", "rejection_text", "rounding_text", "sentence_maker", "value_text", "json_value",
           "term"]

LANGUAGES = ("en", "nl")
#: Types whose text values are codes of a choice (a list holds codes of its choice).
_CHOICE_KINDS = (Kind.ENUM, Kind.LIST)

_TERMS = {
    "yes": ("yes", "ja"), "no": ("no", "nee"), "not applicable": ("not applicable", "niet van toepassing"),
    "day": ("day", "dag"), "days": ("days", "dagen"), "month": ("month", "maand"), "months": ("months", "maanden"),
    "or the smallest pack": ("or the smallest pack", "of de kleinste verpakking"),
    "or one course": ("or one course", "of één kuur"),
    "at most": ("at most", "ten hoogste"), "not given": ("not given", "niet opgegeven"),
    ">=": ("at least", "ten minste"), ">": ("more than", "meer dan"), "<=": ("at most", "ten hoogste"),
    "<": ("less than", "minder dan"), "is": ("is", "is"), "is not": ("is not", "is niet"), "not": ("not", "niet"),
    "covered": ("covered", "vergoed"), "not_covered": ("not covered", "niet vergoed"),
    "decision": ("decision", "beslissing"), "value": ("value", "waarde"), "rule": ("rule", "regel"),
    "source": ("source", "bron"), "because": ("because", "omdat"), "meaning": ("meaning", "betekenis"),
    "outcome": ("outcome", "uitkomst"), "reasons": ("reasons", "redenen"), "layer": ("layer", "laag"),
    "overridden": ("set aside by the exception", "opzijgezet door de uitzondering"),
    "exception to": ("exception to", "uitzondering op"), "interpretation": ("interpretation", "interpretatie"),
    "rejection code": ("rejection code", "afwijzingscode"), "dispensed on": ("dispensed on", "afgeleverd op"),
    "unverified": ("unverified", "niet bevestigd"), "warnings": ("warnings", "waarschuwingen"),
}


def term(word: str, lang: str) -> str:
    """A fixed term in the language asked for."""
    pair = _TERMS.get(word)
    if pair is None:
        return word
    return pair[1] if lang == "nl" else pair[0]


def _duration(value: Duration, lang: str) -> str:
    word = ("day" if value.amount == 1 else "days") if value.unit is Unit.DAYS else (
        "month" if value.amount == 1 else "months")
    return f"{value.amount} {term(word, lang)}"


def value_text(value: object, lang: str = "en", typ: Type | None = None) -> str:
    """A value as people read it: ``€ 12.40`` (Dutch ``€ 12,40``), ``1 month``, ``yes``, ``2025-03-14``.

    ``typ`` is the value's type where known: a choice's codes (or a list of them) are then said in words
    (``nasal`` → "nasaal"). Without it a text is only shown with spaces for underscores, since a plain
    text (a plan's name) may happen to spell a code.
    """
    if value is None:
        return term("not applicable", lang)
    if isinstance(value, bool):
        return term("yes" if value else "no", lang)
    if isinstance(value, Decimal) and typ is not None and typ.kind in (Kind.NUMBER, Kind.PERCENT):
        text = number_text(value)  # 2.50 rounded to 2 decimals is no amount: no €
        number = text.replace(".", ",") if lang == "nl" else text
        return f"{number} %" if typ.kind is Kind.PERCENT else number
    if isinstance(value, Decimal) and is_money(value, typ):
        # Cents as the contract writes them (read from the text first: explanations say some thirty amounts a
        # case); an amount a rule leaves unrounded (kept to 28 digits) with every decimal it has, never cut to
        # cents where the engine holds more.
        amount = format_money(value)
        if str(value)[-3:-2] != ".":
            exact = number_text(value)
            amount = exact if "." in exact and len(exact) - exact.find(".") > 3 else amount
        return f"€ {amount.replace('.', ',') if lang == 'nl' else amount}"  # Dutch writes a decimal comma
    if isinstance(value, Duration):
        return _duration(value, lang)
    if isinstance(value, SupplyLimit):
        text = _duration(value.duration, lang)
        if value.or_smallest_pack:
            text += " " + term("or the smallest pack", lang)
        if value.or_one_course:
            text += " " + term("or one course", lang)
        return text
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return ", ".join(value_text(v, lang, typ) for v in value) or "—"
    if isinstance(value, str):
        words = typ.words.get(value) if typ is not None and typ.kind in _CHOICE_KINDS and typ.words else None
        return (words.get(lang) or words["en"]) if words else value.replace("_", " ")
    if isinstance(value, Decimal):  # of unknown type and not shaped like money: a number, never an exponent
        text = number_text(value)
        return text.replace(".", ",") if lang == "nl" else text
    return str(value)


def declared_type(policy: CompiledPolicy, name: str) -> Type | None:
    """The type a policy gives a decision, parameter or definition (by name) or a case fact (by its path): what
    tells a renderer money from a number, whatever decimals the value has (None for none of them)."""
    checked = policy.checked
    found = checked.decisions.get(name) or checked.parameters.get(name) or checked.definitions.get(name) \
        or policy.facts.fields.get(name)
    return found.type if found is not None else None


#: Rounding modes in Dutch: the words before "afgerond" and after the unit (``down`` and ``up`` go toward and
#: away from zero, as for money).
_ROUNDING_NL = MappingProxyType({"half up": ("afgerond", " (een half naar boven)"),
                                 "half even": ("afgerond", " (een half naar het even getal)"),
                                 "down": ("naar beneden afgerond", ""), "up": ("naar boven afgerond", "")})
_ROUNDING_UNITS_NL = MappingProxyType({"whole euros": "hele euro's", "cents": "centen",
                                       "a whole number": "een geheel getal"})


def rounding_text(rounding: Rounding, lang: str = "en") -> str:
    """A rounding step in words: "rounded down to a whole number", "naar beneden afgerond op een geheel getal"."""
    if lang != "nl":
        return f"rounded {rounding.written}"
    before, after = _ROUNDING_NL[rounding.mode]
    unit = (f"{rounding.places} {'decimaal' if rounding.places == 1 else 'decimalen'}"
            if rounding.unit == "decimals" else _ROUNDING_UNITS_NL[rounding.unit])
    return f"{before} op {unit}{after}"


def leap_day_text(leap_day: str, lang: str = "en") -> str:
    """Where a 29 February birthday was counted, said beside an age or birthday that rests on it."""
    if lang == "nl":
        day = {"1 March": "1 maart", "28 February": "28 februari"}[leap_day]
        return f"geboren op 29 februari: in een jaar zonder 29 februari telt de verjaardag op {day}"
    return f"born on 29 February: in a year without 29 February the birthday counts on {leap_day}"


def rejection_text(rule: RuleMeta, lang: str = "en") -> str:
    """``rejection code 0613, unverified``: the code, marked unverified until a source confirms it."""
    if not rule.rejection_code:
        return ""
    verified = "" if rule.rejection_code_verified else f", {term('unverified', lang)}"
    return f"{term('rejection code', lang)} {rule.rejection_code}{verified}"


def interpretations(rule: RuleMeta, policy: str, lang: str = "en") -> list[tuple[str, str]]:
    """(label, text) of how the sources were read for this rule: the rule's own reading, and the policy's
    reason for adopting the shared layer the rule belongs to (labelled with the policy's name)."""
    own = rule.interpretation_in(lang)
    found = [(term("interpretation", lang), own)] if own else []
    if rule.layer_interpretation:
        found.append((f"{term('interpretation', lang)} ({policy})", rule.layer_interpretation))
    return found


#: The kinds of rule layer (``kind statutory`` / ``kind insurer``) in English and Dutch: words of the language.
_LAYER_KINDS = MappingProxyType({"statutory": ("statutory", "wettelijk"), "insurer": ("insurer", "verzekeraar")})


def layer_text(rule: RuleMeta, lang: str = "en") -> str:
    """The layer of a rule as people read it: a layer named after its kind in the kind's words
    (the statutory layer: "wettelijk" in Dutch), any other by its name (``model``, ``hollandzorg``)."""
    if rule.layer == rule.layer_kind.value:
        return _LAYER_KINDS[rule.layer_kind.value][lang == "nl"]
    return rule.layer


def json_value(value: object, typ: Type | None = None) -> object:
    """A value in the contract's JSON form: money as a two-decimal string, durations as ``"1 month"``.

    ``typ``, where known, tells money (``"1.50"``) from a number or percentage, which keeps every decimal of its
    value (``"0.125"``, ``"1.5"``: :func:`~rxpolicy.language.values.number_text`); without it a Decimal of
    exactly two decimals is taken for money."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return format_money(value) if is_money(value, typ) else number_text(value)
    if isinstance(value, SupplyLimit):
        return str(value.duration)
    if isinstance(value, (Duration, dt.date)):
        return str(value) if isinstance(value, Duration) else value.isoformat()
    if isinstance(value, tuple):
        return [json_value(v, typ) for v in value]
    return str(value)


def _subject(node: ast.Expr, policy: CompiledPolicy, lang: str) -> str:
    """What a test is about: a case field's noun, a decision's description, or the text as written."""
    if isinstance(node, ast.Rounded):
        return f"{_subject(node.operand, policy, lang)}, {rounding_text(node.rounding, lang)}"
    if isinstance(node, ast.Name):
        resolved = policy.checked.names.get(id(node))
        if resolved and resolved.kind is SymbolKind.FIELD:
            spec = policy.facts.fields[resolved.target]
            return spec.noun.get(lang) or spec.noun.get("en") or resolved.target
        texts: Mapping[str, str] = {}
        if resolved and resolved.kind is SymbolKind.DECISION:
            texts = policy.checked.decisions[resolved.target].explains
        elif resolved and resolved.kind is SymbolKind.DEFINITION:
            texts = policy.checked.definitions[resolved.target].explains
        elif resolved and resolved.kind is SymbolKind.PARAMETER:
            texts = policy.checked.parameters[resolved.target].explains
        if resolved and resolved.kind is SymbolKind.CHOICE:
            return value_text(resolved.target, lang, _type(node, policy))
        if resolved:
            return texts.get(lang) or texts.get("en") or resolved.target.replace("_", " ")
    return _written(node, policy)


def _type(node: ast.Expr, policy: CompiledPolicy) -> Type | None:
    """The checked type of an expression (its values' choice, if any)."""
    return policy.checked.expr_types.get(id(node))


def _option(node: ast.Expr, policy: CompiledPolicy, lang: str) -> str:
    """One option of ``is one of``: a choice in words, anything else as the rule file writes it."""
    resolved = policy.checked.names.get(id(node)) if isinstance(node, ast.Name) else None
    if resolved is not None and resolved.kind is SymbolKind.CHOICE:
        return value_text(resolved.target, lang, _type(node, policy))
    return _written(node, policy)


def _written(node: ast.Expr, policy: CompiledPolicy) -> str:
    source = policy.checked.source_of(node.span.path)
    return source.slice(node.span) if source else "…"


#: A test put into words, made once per test and language: (observed, outcome, decisions to quote) → the sentence.
SentenceMaker = Callable[[object, object, "Mapping[str, object] | None"], str]


def _name_maker(node: ast.Name, policy: CompiledPolicy, lang: str) -> SentenceMaker:
    """A yes/no fact or definition, or a value, said as the case's outcome for it (``fact.outcome``)."""
    resolved = policy.checked.names.get(id(node))
    typ = _type(node, policy)
    if resolved is None:
        written = _written(node, policy)
        return lambda observed, value, decisions: f"{written}: {value_text(value, lang, typ)}"
    texts: Mapping[str, str] = {}
    said: tuple[Mapping[str, str], Mapping[str, str]] | None = None  # (when yes, when no) for a yes/no outcome
    if resolved.kind is SymbolKind.FIELD:
        spec = policy.facts.fields[resolved.target]
        if spec.yes or spec.no:
            said = (spec.yes, spec.no)
        texts = spec.noun
    elif resolved.kind is SymbolKind.DEFINITION:
        texts = policy.checked.definitions[resolved.target].explains
        text = texts.get(lang) or texts.get("en")
        if text:
            said = ({lang: text}, {lang: f"{term('not', lang)}: {text}"})
    elif resolved.kind is SymbolKind.DECISION:
        texts = policy.checked.decisions[resolved.target].explains
    elif resolved.kind is SymbolKind.PARAMETER:
        texts = policy.checked.parameters[resolved.target].explains
    subject = texts.get(lang) or texts.get("en") or resolved.target.replace("_", " ")

    def sentence(observed: object, value: object, decisions: Mapping[str, object] | None) -> str:
        if said is not None and isinstance(value, bool):
            phrases = said[0] if value else said[1]
            return phrases.get(lang) or phrases["en"]
        return f"{subject}: {value_text(value, lang, typ)}"
    return sentence


def _yes_no_maker(node: ast.Compare, policy: CompiledPolicy, lang: str) -> SentenceMaker | None:
    """``field is yes`` / ``is not no`` for a yes/no field with sentences: what the case says, in the field's
    own words (``prescription.challenge_test_done is not yes`` → "no challenge test was performed")."""
    resolved = policy.checked.names.get(id(node.left)) if isinstance(node.left, ast.Name) else None
    if (node.op not in ("is", "is not") or resolved is None or resolved.kind is not SymbolKind.FIELD
            or not isinstance(node.right, ast.Literal) or not isinstance(node.right.value, bool)):
        return None
    spec = policy.facts.fields[resolved.target]
    if not spec.yes or not spec.no:
        return None
    yes, no = spec.yes.get(lang) or spec.yes["en"], spec.no.get(lang) or spec.no["en"]
    unknown = f"{term('not given', lang)}: {yes}"  # unknown: say which fact is missing
    return lambda observed, outcome, decisions: unknown if observed is None else yes if observed else no


def _observed_maker(node: ast.Expr, policy: CompiledPolicy, lang: str) -> Callable[[object], str]:
    """The value a test saw for ``node``, in words; "not given" when unknown."""
    typ, missing = _type(node, policy), term("not given", lang)
    return lambda value: value_text(value, lang, typ) if value is not None else missing


def _text_match_maker(node: ast.Matches, policy: CompiledPolicy, lang: str) -> SentenceMaker:
    """``the medicine name "oxazepam 10 mg" begins with "oxazepam"`` (or "is" for a whole text)."""
    words = {"en": (" or ", "begins with", "does not begin with", "is", "is not"),
             "nl": (" of ", "begint met", "begint niet met", "is", "is niet")}[lang if lang == "nl" else "en"]
    starts = [f'"{p[:-1]}"' for p in node.patterns if p.endswith("*")]
    whole = [f'"{p}"' for p in node.patterns if not p.endswith("*")]
    tails = []
    for outcome in (False, True):
        parts = []
        if starts:
            parts.append(f"{words[1] if outcome else words[2]} {words[0].join(starts)}")
        if whole:
            parts.append(f"{words[3] if outcome else words[4]} {words[0].join(whole)}")
        joiner = words[0] if outcome else (" en " if lang == "nl" else " and ")
        tails.append(joiner.join(parts))
    subject = _subject(node.operand, policy, lang)
    return lambda observed, outcome, decisions: f'{subject} "{observed}" {tails[bool(outcome)]}'


def sentence_maker(node: ast.Expr, policy: CompiledPolicy, lang: str = "en") -> SentenceMaker:
    """How one test is put into words: everything that does not depend on the case (the subject, the
    requirement, the words of a choice) is worked out here, once; the maker fills in what the case gave.

    :func:`fact_sentence` is the maker applied to a fact; renderers keep makers per test in the policy's memo.
    """
    if isinstance(node, ast.Name):
        return _name_maker(node, policy, lang)
    if isinstance(node, ast.Matches) and (_type(node.operand, policy) or t.NOTHING).kind is not Kind.ATC:
        return _text_match_maker(node, policy, lang)
    if isinstance(node, ast.Matches):
        groups = (" of " if lang == "nl" else " or ").join(p.rstrip("*") for p in node.patterns)
        if lang == "nl":
            return lambda observed, outcome, decisions: (
                f"de ATC-code {observed} {'valt' if outcome else 'valt niet'} in groep {groups}")
        return lambda observed, outcome, decisions: (
            f"the ATC code {observed} {'is' if outcome else 'is not'} in group {groups}")
    if isinstance(node, ast.FitsWithin):
        return _fits_maker(node, policy, lang)
    if isinstance(node, ast.Known):
        subject = _subject(node.operand, policy, lang)
        negated = node.negated
        if lang == "nl":
            said = (f"{subject} is niet bekend", f"{subject} is bekend")
        else:
            said = (f"{subject} is not known", f"{subject} is known")
        return lambda observed, outcome, decisions: said[bool(outcome) != negated]
    if isinstance(node, ast.Compare):
        return _yes_no_maker(node, policy, lang) or _compare_maker(node, policy, lang)
    if isinstance(node, (ast.OneOf, ast.InList)):
        subject = _subject(node.operand, policy, lang)
        others = (", ".join(_option(o, policy, lang) for o in node.options) if isinstance(node, ast.OneOf)
                  else _subject(node.collection, policy, lang))
        among = "een van" if lang == "nl" else "one of"
        negated, shown, is_ = node.negated, _observed_maker(node.operand, policy, lang), term("is", lang)
        ends = (f" ({term('not', lang)} {among} {others})", f" ({among} {others})")
        return lambda observed, outcome, decisions: f"{subject} {is_} {shown(observed)}{ends[bool(outcome) != negated]}"
    written = _written(node, policy)
    said = (f"{written}: {value_text(False, lang)}", f"{written}: {value_text(True, lang)}")
    return lambda observed, outcome, decisions: said[bool(outcome)]


def _fits_maker(node: ast.FitsWithin, policy: CompiledPolicy, lang: str) -> SentenceMaker:
    limit_written = _written(node.limit, policy)
    subject = _subject(node.limit, policy, lang)

    def sentence(observed: object, outcome: object, decisions: Mapping[str, object] | None) -> str:
        limit = limit_written
        if decisions is not None and limit in decisions:
            limit = f"{value_text(decisions[limit], lang)} ({subject})"
        if lang == "nl":
            return f"een voorraad van {value_text(observed, lang)} past {'' if outcome else 'niet '}binnen {limit}"
        return f"a supply of {value_text(observed, lang)} {'fits' if outcome else 'does not fit'} within {limit}"
    return sentence


def _compare_maker(node: ast.Compare, policy: CompiledPolicy, lang: str) -> SentenceMaker:
    subject = _subject(node.left, policy, lang)
    right = _subject(node.right, policy, lang).replace("_", " ")
    shown = _observed_maker(node.left, policy, lang)
    is_, not_ = term("is", lang), term("not", lang)
    if node.op in ("is", "is not"):
        is_op = node.op == "is"
        otherwise = f" ({not_} {right})"
        return lambda observed, outcome, decisions: (
            f"{subject} {is_} {shown(observed)}" + ("" if bool(outcome) == is_op else otherwise))
    requirement = f"{term(node.op, lang)} {right}"
    ends = (f" ({not_} {requirement})", f" ({requirement})")
    return lambda observed, outcome, decisions: f"{subject} {is_} {shown(observed)}{ends[bool(outcome)]}"


def leaf_sentence_makers(policy: CompiledPolicy, lang: str) -> tuple[SentenceMaker, ...]:
    """The sentence maker of every traced test of a policy, by leaf index (made once, kept in its memo)."""
    def make() -> tuple[SentenceMaker, ...]:
        return tuple(sentence_maker(leaf.node, policy, lang) for leaf in policy.leaves)
    found: tuple[SentenceMaker, ...] = policy.memo.get(("sentence makers", lang), make)
    return found


def fact_sentence(fact: Fact, policy: CompiledPolicy, lang: str = "en",
                  decisions: Mapping[str, object] | None = None) -> str:
    """One recorded test as a sentence a patient could read (``decisions``: values to quote)."""
    index = fact.leaf.index
    leaves = policy.leaves
    if index < len(leaves) and leaves[index] is fact.leaf:  # a test of this policy: its maker is kept
        maker = leaf_sentence_makers(policy, lang)[index]
    else:
        maker = sentence_maker(fact.node, policy, lang)
    return maker(fact.observed, fact.outcome, decisions)
