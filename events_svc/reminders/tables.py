"""What reminders carry that is rendered ahead of their due time."""

from piccolo.columns import UUID, Bytea, ForeignKey, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from events_svc.invitations.tables import Invitation


class CheckinCode(Table, tablename="checkin_code"):
    """An invitation's check-in QR code as the PNG its reminders show: rendering one costs
    milliseconds, ten thousand reminders due at once would spend that at the due instant."""

    id = UUID(primary_key=True)
    invitation = ForeignKey(
        references=Invitation, null=False, unique=True, on_delete=OnDelete.cascade
    )
    #: sha256 of the check-in URL the image encodes: another SECRET_KEY or PUBLIC_BASE_URL
    #: makes another URL, and the image is not used
    digest = Varchar(length=64)
    png = Bytea()  #: the image (events_svc.mail.qr)
    created_at = Timestamptz(default=TimestamptzNow())
