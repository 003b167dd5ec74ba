import { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { AthenaNamedQuery } from "@cdktf/provider-aws/lib/athena-named-query";
import { AthenaWorkgroup } from "@cdktf/provider-aws/lib/athena-workgroup";
import { GlueCatalogDatabase } from "@cdktf/provider-aws/lib/glue-catalog-database";
import { GlueCatalogTable } from "@cdktf/provider-aws/lib/glue-catalog-table";
import { GlueCrawler } from "@cdktf/provider-aws/lib/glue-crawler";
import type { SessionizationConfig } from "../config/schema";
import { eventSchema } from "../functions/core/event";
import { REJECTED_TABLE, rejectedRecordSchema } from "../functions/core/rejected";
import { sessionRowSchema } from "../functions/core/row";
import { AthenaView, readSql } from "../modules/athena-view";
import { glueColumnsFromSchema, TIME_PARTITION_KEYS, type GlueColumn } from "../modules/glue-columns";
import { ServiceRole } from "../modules/iam";
import { LayerStack } from "./base";
import type { LakeStack } from "./lake";

/**
 * Catalog: the Glue database with explicit tables over the lake (columns derived from the
 * same zod schemas the code uses; partitions by partition projection, so Athena sees new
 * hours without a crawler), the Athena workgroup, the seed's views and saved query from
 * `sql/`, and optionally the seed's crawler (catalog target: it only adds partitions).
 */
export const VIEWS = ["clicks_today", "clicks_month"] as const;
export const SAVED_QUERY = { name: "sessions by duration", file: "sessions_by_duration" } as const;

/** Partition projection over `year=/month=/day=/hour=` as Firehose writes them (UTC). */
export function partitionProjection(location: string, startYear: number): Record<string, string> {
  return {
    "projection.enabled": "true",
    "projection.year.type": "integer",
    "projection.year.range": `${startYear},2100`,
    "projection.month.type": "integer",
    "projection.month.range": "1,12",
    "projection.month.digits": "2",
    "projection.day.type": "integer",
    "projection.day.range": "1,31",
    "projection.day.digits": "2",
    "projection.hour.type": "integer",
    "projection.hour.range": "0,23",
    "projection.hour.digits": "2",
    // `$$` is Terraform's escape for a literal `$`: Athena fills these placeholders in.
    "storage.location.template": `${location}year=$\${year}/month=$\${month}/day=$\${day}/hour=$\${hour}/`,
  };
}

/** The AWS partition of a region (for ARNs built from parts). */
export function awsPartition(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  if (region.startsWith("us-iso-")) return "aws-iso";
  if (region.startsWith("us-isob-")) return "aws-iso-b";
  return "aws";
}

export class CatalogStack extends LayerStack {
  readonly database: GlueCatalogDatabase;
  readonly rawTable: GlueCatalogTable;
  readonly aggregatedTable: GlueCatalogTable;
  readonly rejectedTable: GlueCatalogTable;
  readonly workgroup: AthenaWorkgroup;
  readonly rawColumns: GlueColumn[];
  readonly aggregatedColumns: GlueColumn[];
  readonly rejectedColumns: GlueColumn[];

  constructor(scope: Construct, config: SessionizationConfig, lake: LakeStack) {
    super(scope, "catalog", config);
    const bucketName = lake.data.bucket.bucket;
    const db = config.databaseName;
    this.database = new GlueCatalogDatabase(this, "database", {
      name: db,
      description: `Clickstream sessions of ${config.namePrefix}`,
    });

    const jsonTable = (id: string, name: string, prefix: string, columns: GlueColumn[], description: string, tolerant: boolean) => {
      const location = `s3://${bucketName}/${prefix}/`;
      return new GlueCatalogTable(this, id, {
        databaseName: this.database.name,
        name,
        description,
        tableType: "EXTERNAL_TABLE",
        parameters: {
          EXTERNAL: "TRUE",
          classification: "json",
          compressionType: "gzip",
          ...partitionProjection(location, config.catalog.projectionStartYear),
        },
        partitionKeys: TIME_PARTITION_KEYS.map((k) => ({ name: k.name, type: k.type })),
        storageDescriptor: {
          location,
          inputFormat: "org.apache.hadoop.mapred.TextInputFormat",
          outputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
          compressed: true,
          columns: columns.map((c) => ({ name: c.name, type: c.type })),
          serDeInfo: {
            name: "json",
            serializationLibrary: "org.openx.data.jsonserde.JsonSerDe",
            // The raw lake keeps malformed records too (they are rejected downstream, not here).
            parameters: tolerant ? { "ignore.malformed.json": "true" } : {},
          },
        },
      });
    };
    this.rawColumns = glueColumnsFromSchema(eventSchema);
    this.aggregatedColumns = glueColumnsFromSchema(sessionRowSchema);
    this.rawTable = jsonTable("rawdata", "rawdata", config.lake.rawPrefix, this.rawColumns, "Every record of the stream as it arrived", true);
    this.aggregatedTable = jsonTable(
      "aggregated",
      "aggregated",
      config.firehose.destinationPrefix,
      this.aggregatedColumns,
      `Stagger-window session rows (W = ${config.windowSeconds} s)`,
      false,
    );
    // The sessionizer's error output: the records it could not parse, with the reason.
    this.rejectedColumns = glueColumnsFromSchema(rejectedRecordSchema);
    this.rejectedTable = jsonTable(
      REJECTED_TABLE,
      REJECTED_TABLE,
      config.rejectedPrefix,
      this.rejectedColumns,
      "Records the sessionizer rejected (not JSON, missing or wrong fields, bad timestamps), with the reason",
      false,
    );

    const viewColumns = [...this.aggregatedColumns, ...TIME_PARTITION_KEYS];
    for (const view of VIEWS) {
      new AthenaView(this, view, {
        databaseName: this.database.name,
        schemaName: db,
        viewName: view,
        sql: readSql(view),
        columns: viewColumns,
        description: `sql/${view}.sql`,
        dependsOn: [this.aggregatedTable],
      });
    }

    this.workgroup = new AthenaWorkgroup(this, "workgroup", {
      name: config.namePrefix,
      description: `Queries over the ${config.namePrefix} clickstream lake`,
      forceDestroy: true,
      configuration: {
        enforceWorkgroupConfiguration: true,
        publishCloudwatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: config.catalog.bytesScannedCutoffPerQuery,
        engineVersion: { selectedEngineVersion: "Athena engine version 3" },
        resultConfiguration: {
          outputLocation: lake.athenaResultsLocation,
          encryptionConfiguration: { encryptionOption: "SSE_S3" },
        },
      },
    });
    const saved = new AthenaNamedQuery(this, "sessions-by-duration", {
      name: SAVED_QUERY.name,
      description: `sql/${SAVED_QUERY.file}.sql: the seed's duration histogram over clicks_today`,
      database: this.database.name,
      workgroup: this.workgroup.name,
      query: readSql(SAVED_QUERY.file),
    });

    if (config.catalog.crawlerEnabled) this.addCrawler(lake);

    new TerraformOutput(this, "database_name", { value: this.database.name });
    new TerraformOutput(this, "workgroup_name", { value: this.workgroup.name });
    new TerraformOutput(this, "tables", { value: [this.rawTable.name, this.aggregatedTable.name, this.rejectedTable.name] });
    new TerraformOutput(this, "views", { value: [...VIEWS] });
    new TerraformOutput(this, "saved_query_id", { value: saved.id });
  }

  /** The seed's crawler, reduced to what is safe with explicit tables: add partitions, never change the schema. */
  private addCrawler(lake: LakeStack): void {
    const config = this.config;
    const bucketArn = lake.data.bucket.arn;
    // The catalog's account is the database's catalog_id: no STS lookup at plan time.
    const account = this.database.catalogId;
    const partition = awsPartition(config.region);
    const dbArn = this.database.arn;
    const catalogArn = `arn:${partition}:glue:${config.region}:${account}:catalog`;
    // Glue crawlers always log to the service's /aws-glue/crawlers group (not one a stack can own).
    const logsArn = `arn:${partition}:logs:${config.region}:${account}:log-group:/aws-glue/crawlers:*`;
    const role = new ServiceRole(this, "crawler-role", {
      roleName: `${config.namePrefix}-crawler`,
      servicePrincipal: "glue.amazonaws.com",
      description: "The optional Glue crawler: adds partitions to the catalog tables",
      statements: [
        {
          sid: "CatalogPartitions",
          actions: [
            "glue:GetDatabase",
            "glue:GetTable",
            "glue:GetTables",
            "glue:GetPartition",
            "glue:GetPartitions",
            "glue:BatchGetPartition",
            "glue:CreatePartition",
            "glue:BatchCreatePartition",
            "glue:UpdatePartition",
            "glue:BatchUpdatePartition",
          ],
          resources: [catalogArn, dbArn, this.rawTable.arn, this.aggregatedTable.arn, this.rejectedTable.arn],
        },
        { sid: "LakeList", actions: ["s3:ListBucket", "s3:GetBucketLocation"], resources: [bucketArn] },
        {
          sid: "LakeRead",
          actions: ["s3:GetObject"],
          resources: [`${bucketArn}/${config.lake.rawPrefix}/*`, `${bucketArn}/${config.firehose.destinationPrefix}/*`, `${bucketArn}/${config.rejectedPrefix}/*`],
        },
        { sid: "CrawlerLogs", actions: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], resources: [logsArn] },
      ],
    });
    new GlueCrawler(this, "crawler", {
      name: `${config.namePrefix}-partitions`,
      description: "Adds new hourly partitions to rawdata, aggregated and rejected (catalog target: the schema stays as defined)",
      role: role.role.arn,
      databaseName: this.database.name,
      schedule: config.catalog.crawlerSchedule,
      catalogTarget: [{ databaseName: this.database.name, tables: [this.rawTable.name, this.aggregatedTable.name, this.rejectedTable.name] }],
      schemaChangePolicy: { deleteBehavior: "LOG", updateBehavior: "LOG" },
      configuration: JSON.stringify({ Version: 1.0, CrawlerOutput: { Partitions: { AddOrUpdateBehavior: "InheritFromTable" } } }),
      dependsOn: [role.policy],
    });
  }
}
