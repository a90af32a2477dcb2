"""The vocabulary: every option the protocol language allows has a label, and the derived sets
follow the options' properties.

The walk over the Protocol model finds every ``Literal`` wherever it sits (nested models,
Optional, tuples, mappings, Annotated), so an option added to the schema without a vocabulary
entry fails here rather than printing as a raw identifier (or not at all) in a report.
"""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from bitframe.protocol import vocabulary as v
from bitframe.protocol.schema import Protocol, Tidier
from bitframe.randomise.schemes import SCHEMES as RANDOMISER_SCHEMES


def _literals(annotation, path: str, seen: set[type]) -> typing.Iterator[tuple[str, object]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for name, field in annotation.model_fields.items():
            yield from _literals(field.annotation, f"{annotation.__name__}.{name}", seen)
        return
    if typing.get_origin(annotation) is typing.Literal:
        yield path, annotation
        return
    for arg in typing.get_args(annotation):  # Optional/Union, tuple[...], dict[k, v], Annotated[x, ...]
        yield from _literals(arg, path, seen)


LITERALS = list(_literals(Protocol, "Protocol", set()))


def test_the_walk_reaches_nested_optional_tuple_and_annotated_fields():
    paths = {path for path, _ in LITERALS}
    assert {"Protocol.bitframe", "Trial.programme_area", "Barrier.com_b", "Mechanism.east", "Arm.role",
            "Randomisation.scheme", "Minimisation.imbalance", "Analysis.se_type", "Analysis.multiplicity",
            "WildBootstrap.weights", "Outcome.estimator", "ColumnSpec.type", "Unit.level"} <= paths


@pytest.mark.parametrize("path,literal", LITERALS, ids=[p for p, _ in LITERALS])
def test_every_allowed_value_has_an_option_with_a_label(path, literal):
    options = v.vocabulary_of(literal)
    for value in typing.get_args(literal):
        assert value in options, f"{path}: {value!r} has no vocabulary entry"
        assert isinstance(options[value], v.Option) and options[value].label.strip(), (path, value)
        assert options[value].description.strip(), (path, value)


def test_a_vocabulary_must_list_exactly_the_literals_values():
    with pytest.raises(TypeError, match="vocabulary"):
        v._vocabulary(typing.Literal["a", "b"], {"a": v.Option(label="A", description="a")})
    with pytest.raises(TypeError, match="no label"):
        v._vocabulary(typing.Literal["a"], {"a": v.Option(label=" ", description="a")})


def test_tidier_items_are_the_tidier_fields():
    assert tuple(v.TIDIER_ITEMS) == tuple(Tidier.model_fields)


def test_derived_scheme_sets_follow_the_properties():
    assert {"cluster", "stratified_cluster", "stepped_wedge"} == v.CLUSTER_SCHEMES
    assert {"stratified_block", "stratified_cluster"} == v.STRATIFIED_SCHEMES
    assert {"block", "stratified_block"} == v.BLOCK_SCHEMES
    for name, option in v.SCHEMES.items():
        assert (name in v.CLUSTER_SCHEMES) == option.clustered
        assert (name in v.STRATIFIED_SCHEMES) == option.stratified
        assert (name in v.BLOCK_SCHEMES) == option.blocked
        if option.stratified_variant is not None:
            assert v.SCHEMES[option.stratified_variant].stratified and not option.stratified


def test_scheme_properties_match_what_each_scheme_draws_from():
    """The flags are checked against the scheme's own ``assign``: a scheme is clustered, stratified,
    blocked, sequential (minimisation) or stepped exactly when its function takes clusters, strata,
    block sizes, factors or steps."""
    import inspect

    assert sorted(v.SCHEMES) == RANDOMISER_SCHEMES.names()
    for name, option in v.SCHEMES.items():
        takes = set(inspect.signature(RANDOMISER_SCHEMES.get(name).assign).parameters)
        flags = (option.clustered, option.stratified, option.blocked, option.sequential, option.stepped)
        assert flags == tuple(arg in takes for arg in ("clusters", "strata", "block_sizes", "factors", "steps")), name


def test_derived_se_sets_follow_the_properties():
    assert {"CR0", "stata", "CR2"} == v.CLUSTER_SE_TYPES
    assert v.HC_SE_TYPES == ("classical", "HC0", "HC1", "HC2", "HC3")
    for name, option in v.SE_TYPES.items():
        assert (name in v.CLUSTER_SE_TYPES) == option.clustered
        assert (name in v.HC_SE_TYPES) == (not option.clustered)
        assert option.formula


def test_cr1_is_a_library_option_but_not_a_protocol_choice():
    assert "CR1" in v.LIBRARY_SE_TYPES and v.LIBRARY_SE_TYPES["CR1"].clustered
    assert "CR1" not in typing.get_args(v.SeType)
    assert {k: o for k, o in v.LIBRARY_SE_TYPES.items() if k != "CR1"} == dict(v.SE_TYPES)


def test_multiplicity_properties():
    assert v.RESAMPLING_MULTIPLICITY == ("westfall_young", "romano_wolf")
    for name, option in v.MULTIPLICITY.items():
        assert (name in v.RESAMPLING_MULTIPLICITY) == option.resampling
        assert option.family or option.error_rate == "none"
        assert option.short_label
    assert "permutation" in v.MULTIPLICITY["westfall_young"].label
    assert "permutation" in v.MULTIPLICITY["romano_wolf"].label
    assert v.MULTIPLICITY["westfall_young"].family != v.MULTIPLICITY["holm"].family


def test_estimator_outcome_types_are_outcome_types():
    for option in v.ESTIMATORS.values():
        assert set(option.outcome_types) <= set(v.OUTCOME_TYPES)
