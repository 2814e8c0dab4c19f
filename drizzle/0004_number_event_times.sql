ALTER TABLE "numbers" ADD COLUMN "quality_event_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "numbers" ADD COLUMN "status_event_at" timestamp with time zone;