-- sregistry's label search ignores case (internal/sregistry, Labels;
-- docs/sregistry.md, Limits): its clients lowercase the key and value
-- they ask for, while labels are kept as the SIF has them. This index
-- serves those comparisons, lower(key) = lower(?) [AND lower(value) =
-- lower(?)], as labels_key_value serves the exact ones.
CREATE INDEX labels_fold ON labels (lower(key), lower(value));
