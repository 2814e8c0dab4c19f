DROP INDEX "recipients_state";--> statement-breakpoint
CREATE INDEX "recipients_pending" ON "recipients" USING btree ("campaign_id","seq") WHERE state = 'pending';--> statement-breakpoint
CREATE INDEX "recipients_unsettled" ON "recipients" USING btree ("campaign_id","state") WHERE state in ('sending', 'ambiguous');