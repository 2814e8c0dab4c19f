CREATE TABLE "inbound_messages" (
	"message_id" text PRIMARY KEY NOT NULL,
	"phone_number_id" text,
	"phone" text NOT NULL,
	"type" text,
	"at" timestamp with time zone NOT NULL,
	"event_id" bigint
);
--> statement-breakpoint
CREATE TABLE "ingest_signals" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" bigint,
	"workflow_id" text NOT NULL,
	"mode" text NOT NULL,
	"signal_name" text NOT NULL,
	"payload" jsonb NOT NULL,
	"start" jsonb,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"claimed_until" timestamp with time zone,
	"done_at" timestamp with time zone,
	"outcome" text,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "inbound_messages_phone" ON "inbound_messages" USING btree ("phone","at");--> statement-breakpoint
CREATE INDEX "ingest_signals_due" ON "ingest_signals" USING btree ("done_at","next_attempt_at");--> statement-breakpoint
CREATE INDEX "ingest_signals_workflow" ON "ingest_signals" USING btree ("workflow_id","id");