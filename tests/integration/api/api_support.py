"""Reading the API's JSON error answers."""


def error_of(response, status: int, code: str) -> dict:
    """The error body of a JSON error answer, after checking its status, code and shape."""
    assert response.status_code == status, response.text
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    for detail in error["details"]:
        assert set(detail) == {"field", "message"} and detail["message"]
    return error


def fields_of(error: dict) -> list[str]:
    return [detail["field"] for detail in error["details"]]
