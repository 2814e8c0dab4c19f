CREATE TABLE "onboarding_numbers" (
	"onboarding_id" text NOT NULL,
	"phone_number_id" text NOT NULL,
	"display_phone_number" text,
	"meta_phone_number_id" text,
	"state" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "onboarding_numbers_onboarding_id_phone_number_id_pk" PRIMARY KEY("onboarding_id","phone_number_id")
);
--> statement-breakpoint
CREATE TABLE "onboardings" (
	"id" text PRIMARY KEY NOT NULL,
	"waba_id" text,
	"step" text NOT NULL,
	"waiting_for" text,
	"deadline" timestamp with time zone NOT NULL,
	"event_destination_arn" text,
	"sms_number" text,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "onboarding_numbers_phone" ON "onboarding_numbers" USING btree ("phone_number_id");--> statement-breakpoint
CREATE INDEX "onboardings_waba" ON "onboardings" USING btree ("waba_id");--> statement-breakpoint
CREATE INDEX "onboardings_sms" ON "onboardings" USING btree ("sms_number");