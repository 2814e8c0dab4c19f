CREATE TABLE "campaigns" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text,
	"template_name" text NOT NULL,
	"template_language" text NOT NULL,
	"category" text NOT NULL,
	"phone_number_id" text NOT NULL,
	"state" text NOT NULL,
	"reason" text,
	"total" integer DEFAULT 0 NOT NULL,
	"rejected" integer DEFAULT 0 NOT NULL,
	"start_at" timestamp with time zone,
	"deadline" timestamp with time zone,
	"window_start_min" integer,
	"window_end_min" integer,
	"ambiguity_policy" text DEFAULT 'at-most-once' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "events_raw" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"sns_message_id" text,
	"topic_arn" text,
	"kind" text NOT NULL,
	"outcome" text NOT NULL,
	"error" text,
	"body" jsonb NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "events_raw_sns_message_id_unique" UNIQUE("sns_message_id")
);
--> statement-breakpoint
CREATE TABLE "message_statuses" (
	"message_id" text NOT NULL,
	"status" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"recipient_phone" text,
	"biz_opaque_callback_data" text,
	"errors" jsonb,
	"pricing" jsonb,
	"conversation" jsonb,
	CONSTRAINT "message_statuses_message_id_status_pk" PRIMARY KEY("message_id","status")
);
--> statement-breakpoint
CREATE TABLE "numbers" (
	"phone_number_id" text PRIMARY KEY NOT NULL,
	"waba_id" text,
	"display_phone_number" text,
	"mps" integer DEFAULT 80 NOT NULL,
	"tier_limit" integer,
	"tier_scope" text DEFAULT 'number' NOT NULL,
	"portfolio_id" text,
	"quality_rating" text,
	"status" text,
	"default_timezone" text DEFAULT 'UTC' NOT NULL,
	"tier_window_seconds" integer DEFAULT 86400 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "opt_out_audit" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"phone" text NOT NULL,
	"action" text NOT NULL,
	"source" text NOT NULL,
	"detail" jsonb,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pacers" (
	"phone_number_id" text PRIMARY KEY NOT NULL,
	"next_slot_ms" bigint DEFAULT 0 NOT NULL,
	"throttle_streak" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "reaches" (
	"scope_key" text NOT NULL,
	"phone" text NOT NULL,
	"reached_at" timestamp with time zone NOT NULL,
	CONSTRAINT "reaches_scope_key_phone_pk" PRIMARY KEY("scope_key","phone")
);
--> statement-breakpoint
CREATE TABLE "recipients" (
	"campaign_id" text NOT NULL,
	"seq" integer NOT NULL,
	"phone" text NOT NULL,
	"params" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"timezone" text,
	"locale" text,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"message_id" text,
	"error_code" integer,
	"error_message" text,
	"sending_since" timestamp with time zone,
	"sent_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"read_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "recipients_campaign_id_seq_pk" PRIMARY KEY("campaign_id","seq")
);
--> statement-breakpoint
CREATE TABLE "rejected_rows" (
	"campaign_id" text NOT NULL,
	"line" integer NOT NULL,
	"input" text NOT NULL,
	"reason" text NOT NULL,
	CONSTRAINT "rejected_rows_campaign_id_line_pk" PRIMARY KEY("campaign_id","line")
);
--> statement-breakpoint
CREATE TABLE "service_windows" (
	"phone_number_id" text NOT NULL,
	"phone" text NOT NULL,
	"last_inbound_at" timestamp with time zone NOT NULL,
	CONSTRAINT "service_windows_phone_number_id_phone_pk" PRIMARY KEY("phone_number_id","phone")
);
--> statement-breakpoint
CREATE TABLE "suppressions" (
	"phone" text PRIMARY KEY NOT NULL,
	"reason" text NOT NULL,
	"source" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "campaigns_number" ON "campaigns" USING btree ("phone_number_id");--> statement-breakpoint
CREATE INDEX "events_raw_received" ON "events_raw" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "opt_out_audit_phone" ON "opt_out_audit" USING btree ("phone");--> statement-breakpoint
CREATE INDEX "reaches_scope_time" ON "reaches" USING btree ("scope_key","reached_at");--> statement-breakpoint
CREATE INDEX "recipients_state" ON "recipients" USING btree ("campaign_id","state","seq");--> statement-breakpoint
CREATE INDEX "recipients_message" ON "recipients" USING btree ("message_id");--> statement-breakpoint
CREATE UNIQUE INDEX "recipients_phone" ON "recipients" USING btree ("campaign_id","phone");