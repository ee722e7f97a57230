"""Access-control services, one module per concern (admin, API, CLI, jobs and tests call
these). The names below are the room's public service API."""

from .decision import (  # noqa: F401
    HOT_TICKET_FIELDS,
    TICKET_RELATED,
    find_ticket,
    organisation_day,
    rules_match,
    sector_rules,
    window_reason,
)
from .devices import (  # noqa: F401
    DeviceRevoked,
    DeviceRevokedConflict,
    authenticate_device,
    create_device,
    enrol_device,
    reenrol_device,
    reinstate_device,
    revoke_device,
    roll_device_token,
    touch_device,
    update_device,
)
from .external import (  # noqa: F401
    block_external_barcode,
    external_sale_info,
    import_external_barcodes,
    link_external_to_ticket,
    set_external_mapping,
)
from .history import HistoryItem, import_controls, resolve_conflict, upload_offline  # noqa: F401
from .inputs import (  # noqa: F401
    CLOCK_TOLERANCE,
    DEVICE_TOKEN_PREFIX,
    ENROLMENT_TTL,
    LAST_SEEN_RESOLUTION,
    LIVE_STATUSES,
    MAX_BARCODE,
    MAX_BATCH,
    MAX_NONCE,
    MESSAGES,
    _iso,
    clean_barcode,
    clean_direction,
    clean_nonce,
    clean_time,
    hash_secret,
)
from .places import (  # noqa: F401
    access_settings,
    add_rule,
    create_door,
    create_sector,
    delete_rule,
    rotate_signing_key,
    serve_sectors,
    set_signed_barcodes,
    update_sector,
)
from .postsync import pending_postsync, run_postsync  # noqa: F401
from .recording import NonceReused, Outcome, holder_name, operation_for, replay, ticket_view  # noqa: F401
from .scans import scan  # noqa: F401
