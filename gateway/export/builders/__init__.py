"""One builder module per registry entry (`SearchModel.builder` names it)."""
