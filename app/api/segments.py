"""The API's segment endpoints: thin handlers over app.audience.service."""

from flask import jsonify, request, url_for
from flask_babel import gettext as _

from app.api import bp
from app.api.errors import ApiError, problem
from app.api.schemas import Invalid, segment_from_json
from app.api.views import _invalid, _json_object, _times
from app.audience import service as segments
from app.audience.models import Segment
from app.extensions import db


def _segment(segment_id: int) -> Segment:
    segment = db.session.get(Segment, segment_id)  # at most ID_MAX: app.limits
    if segment is None:
        raise ApiError(404, "not_found", _("There is no segment with id %(id)s.", id=segment_id))
    return segment


def segment_item(segment: Segment) -> dict:
    return {
        "id": segment.id,
        "key": segment.key,
        "name": segment.name,
        "count": segments.live_count(segment),
        "builtin": segment.builtin,
    }


def segment_json(segment: Segment) -> dict:
    return {
        **segment_item(segment),
        "description": segment.description,
        "rules": segment.rules,
        **_times(segment, "created_at", "updated_at"),
    }


def _saved(save) -> Segment:
    """Run ``save(fields)`` with the request's fields; a 422 naming each problem."""
    try:
        fields = segment_from_json(_json_object())
    except Invalid as error:
        raise _invalid(error, _("The segment was not saved; see the details.")) from None
    try:
        segment = save(fields)
    except segments.SegmentError as error:
        details = [problem(p.path, p.message) for p in error.problems]
        raise ApiError(
            422, "invalid", _("The segment was not saved; see the details."), details
        ) from None
    db.session.commit()
    return segment


@bp.get("/segments")
def list_segments():
    return jsonify({"items": [segment_item(s) for s in segments.all_segments()]})


@bp.post("/segments")
def create_segment():
    segment = _saved(lambda f: segments.create_segment(f.name, f.description, f.rules, strict=True))
    location = url_for("api.segment", segment_id=segment.id)
    return jsonify(segment_json(segment)), 201, {"Location": location}


# One route for reading and replacing: with two, a PUT to an id beyond ID_MAX would
# match the GET route's path and be answered 405 instead of 404.
@bp.route("/segments/<int:segment_id>", methods=["GET", "PUT"])
def segment(segment_id: int):
    segment = _segment(segment_id)
    if request.method == "PUT":
        _saved(
            lambda f: segments.update_segment(segment, f.name, f.description, f.rules, strict=True)
        )
    return jsonify(segment_json(segment))


@bp.get("/segments/<int:segment_id>/sample")
def sample_segment(segment_id: int):
    segment = _segment(segment_id)
    count = segments.live_count(segment)
    contacts = segments.segment_sample(segment) if count is not None else []
    items = [
        {
            "id": c.id,
            "mobile": c.mobile,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "city": c.city,
        }
        for c in contacts
    ]
    return jsonify({"count": count, "items": items})
