/** Kinesis Data Streams limits the producer keeps to (AWS: PutRecords, shard write quotas). */
export const MAX_RECORDS_PER_CALL = 500;
/** A PutRecords request, partition keys included: 5 MiB. */
export const MAX_BYTES_PER_CALL = 5 * 1024 * 1024;
/** One record, data plus partition key: 1 MiB. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** Per-shard write quota: 1,000 records and 1 MiB a second. */
export const SHARD_RECORDS_PER_SECOND = 1000;
export const SHARD_BYTES_PER_SECOND = 1024 * 1024;
/** Partition keys: 1 to 256 Unicode characters. */
export const MAX_PARTITION_KEY_LENGTH = 256;
