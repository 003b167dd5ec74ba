/**
 * The S3 key prefixes a Firehose delivery stream writes, as pure strings (no CDKTF import), so
 * the stacks (modules/firehose-to-s3.ts) and the local Firehose (local/firehose.ts) build them
 * with the same functions and cannot disagree.
 *
 *   data:                 <prefix>/year=YYYY/month=MM/day=DD/hour=HH/
 *   delivery failures:    <errorPrefix>/delivery-failed/<shortName>/<error-output-type>/year=…/
 *
 * The failures of every stream sit under one `delivery-failed/` folder of the error prefix, beside
 * (never inside) the data folders: the `rejected` stream's data prefix is `<errorPrefix>/rejected/`
 * and its failed deliveries must not land in the Glue table over it.
 */

/** Hive-style time partitions by arrival time (UTC), in Firehose's timestamp namespace. */
export const HIVE_TIME_PARTITIONS = "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/";

/** Firehose fills this in with the error output type (e.g. `processing-failed`). */
export const FIREHOSE_ERROR_OUTPUT_TYPE = "!{firehose:error-output-type}";

/** The folder of the error prefix that holds every stream's failed deliveries. */
export const DELIVERY_FAILED_FOLDER = "delivery-failed";

/** `<prefix>/year=…/`: a stream's data prefix. */
export const firehosePrefix = (prefix: string, timePartitions: string = HIVE_TIME_PARTITIONS) => `${prefix}/${timePartitions}`;

/** `<errorPrefix>/delivery-failed/<shortName>`: everything one stream's failed deliveries are under (for IAM). */
export const deliveryFailedRoot = (errorPrefix: string, shortName: string) => `${errorPrefix}/${DELIVERY_FAILED_FOLDER}/${shortName}`;

/**
 * A stream's error output prefix, `<errorPrefix>/delivery-failed/<shortName>/<error-output-type>/year=…/`.
 * The stacks take the defaults (Firehose's placeholders); the local Firehose passes the values it
 * fills in itself (its error output type, the object's hour).
 */
export function firehoseErrorPrefix(
  errorPrefix: string,
  shortName: string,
  fill: { errorOutputType?: string; timePartitions?: string } = {},
): string {
  return `${deliveryFailedRoot(errorPrefix, shortName)}/${fill.errorOutputType ?? FIREHOSE_ERROR_OUTPUT_TYPE}/${fill.timePartitions ?? HIVE_TIME_PARTITIONS}`;
}
