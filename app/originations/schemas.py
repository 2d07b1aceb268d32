from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.schemas import DbId, Input


class OriginateRequest(Input):
    number: str = Field(
        min_length=1,
        max_length=100,
        description="the number to call, in any format people write (Persian digits, +98, "
        "0912..., a landline with its city code) or an internal extension",
        examples=["۰۹۱۲ ۱۲۳ ۴۵۶۷"],
    )
    customer_id: DbId | None = Field(
        default=None, description="the customer being called, when known (shown in the pop)"
    )
    device: str | None = Field(
        default=None,
        max_length=100,
        description="which of your devices rings first (default: your first one); admins "
        "may name any user's device, for integrations dialling on an agent's behalf",
        examples=["PJSIP/1001"],
    )
    pbx: str | None = Field(
        default=None, max_length=64, description="needed only when several PBXes are set up"
    )
    confirm: bool = Field(
        default=False,
        description="place the call even though you are on a call or another click-to-call "
        "of yours is still ringing (refused with 409 otherwise)",
    )
    callback_id: DbId | None = Field(
        default=None,
        description="the callback this call makes: you claim it, and the call's end is "
        "recorded as one of its tries (reached, busy, no answer)",
    )


class OriginationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ref: str = Field(description="the Originate's ActionID and TAMAS_ORIGINATION variable")
    user_id: int
    pbx: str
    device: str
    number: str
    dialled: str = Field(description="what was sent to the PBX as the extension to dial")
    e164: str | None
    customer_id: int | None
    state: str = Field(
        description="requested -> agent_ringing (your phone rings) -> dialling (calling the "
        "customer) -> connected -> ended; or failed"
    )
    failure: str = Field(
        description="why it failed: device_offline, agent_no_answer, agent_busy, "
        "agent_rejected, customer_busy, customer_no_answer, invalid_number, congestion, "
        "cancelled, pbx_unavailable, pbx_refused, failed"
    )
    failure_text: str = ""
    detail: str
    call_id: int | None
    linkedid: str
    created_at: datetime
    updated_at: datetime
