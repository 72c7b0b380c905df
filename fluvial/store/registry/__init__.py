"""Model registry stores: the contract (``base``), SQL (``sql``) and REST (``rest``) backends."""
