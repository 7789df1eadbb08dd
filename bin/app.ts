/**
 * CDK app entry: `npx cdk synth` runs `npx tsx bin/app.ts` (cdk.json). Where this stands: the
 * outermost layer; everything it does is in lib/app.ts. The App synthesizes itself when the CLI
 * runs it (CDK_OUTDIR is set).
 */
import { createApp } from '../lib/app';

createApp();
