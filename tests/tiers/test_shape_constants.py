"""Shape constants (op parameters the importer computed from input shapes) are not weights of
the blob, so the placer gives them no mode and the validator of tiered plans asks for none
(found by the 100-model study: every import with shape constants failed placement)."""
import memplan
from memplan.graph import corpus
from memplan.graph.ir import step_weights
from memplan.tiers.devices import load_device
from memplan.tiers.placement import place


def test_a_model_with_shape_constants_places_on_a_device():
    graph = corpus.load("bert_encoder_ts")  # Reshape/Expand shapes computed from the input shapes
    assert graph.shape_constants
    plan = memplan.plan(graph, algorithm="greedy_by_size")
    read = {w for ws in step_weights(graph, plan) for w in ws}
    assert read == set(graph.weights) and not read & graph.shape_constants
    tp = place(graph, plan, load_device("n64"), weights="auto", method="greedy")  # raised PlanError before
    assert set(tp.weight_modes) == set(graph.weights)
