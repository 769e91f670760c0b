"""Recently read image records, kept in memory so a search does not read ten files again.

A record never changes while its image is indexed; an image deleted and indexed again gets
a new `created_at`, which Milvus returns with every hit. So an entry is used only when its
`created_at` equals the hit's, and is otherwise read again: no invalidation is needed, even
across replicas.
"""

from __future__ import annotations

from collections import OrderedDict

from gateway.services.stored import ImageRecord

DEFAULT_SIZE = 8192  # records of a few hundred bytes each: a few MiB at most


class RecordCache:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, ImageRecord] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, image_id: str, created_at: int) -> ImageRecord | None:
        record = self._items.get(image_id)
        if record is None or record.created_at != created_at:
            return None
        self._items.move_to_end(image_id)
        return record

    def put(self, image_id: str, record: ImageRecord) -> None:
        self._items[image_id] = record
        self._items.move_to_end(image_id)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
