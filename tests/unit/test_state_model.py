"""State records share one pydantic fields set (streams/state_model.py): less memory per open
incident, same bytes and equality. The memory figure itself is `patrolflow bench scale`'s."""

from __future__ import annotations

from schemas.units import Force
from streams.dispatch.records import IncidentRecord, UnitRecord
from streams.region.events import IncidentEvent, decode, encode
from streams.response.records import IncidentWatch
from tests.support.region_core import Harness, s


def test_open_incident_state_shares_one_fields_set_and_round_trips_unchanged() -> None:
    h = Harness()
    h.unit("st-1", Force.STATION, 100, at=s(0))
    h.incident("INC-1", at=s(10))
    h.incident("INC-2", at=s(11))  # waits: a pending slot and pending alert conditions
    region = h.processor.state("hailar")
    records = list(region.dispatch.incidents.values())
    watches = list(region.response.incidents.values())
    units = list(region.dispatch.units.values())
    models = [
        *records,
        *(slot for r in records for slot in r.slots),
        *watches,
        *(alert for w in watches for alert in w.alerts.values()),
        *units,
    ]
    assert len({id(m.__pydantic_fields_set__) for m in models}) == 1
    shared = models[0].__pydantic_fields_set__
    # The facts an incident record holds come off the region stream in the worker (this
    # harness hands the router's copy over directly, which keeps a set of its own).
    event = decode(encode(IncidentEvent(region_id="hailar", incident=records[0].facts)))
    assert isinstance(event, IncidentEvent)
    assert event.incident.__pydantic_fields_set__ is shared
    # Restored from their table bytes: equal, and sharing the same set.
    for model, kind in [
        *((r, IncidentRecord) for r in records),
        *((w, IncidentWatch) for w in watches),
        *((u, UnitRecord) for u in units),
    ]:
        restored = kind.model_validate_json(model.to_bytes())
        assert restored == model
        assert restored.to_bytes() == model.to_bytes()
        assert restored.__pydantic_fields_set__ is model.__pydantic_fields_set__
