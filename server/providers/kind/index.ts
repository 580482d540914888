// The kind provider: real Kubernetes through kind + Docker + kubectl. What the CLI and server use.
export { kindProvider, createKindProvider, PROVISION_ACTIONS, type KindProviderOptions } from './provider.ts';
export { KindLab, ADMIN_TARGET } from './lab.ts';
export { prepareImages, buildProbeImage, loadImages, PROBE_IMAGE, LAB_IMAGES } from './image.ts';
export { gatherKindHostFacts, diagnoseKind, describeKindHost } from './doctor.ts';
export { dockerStatus } from './docker.ts';
export { restoreBaseline } from './restore.ts';
export { imagesCommand, kindDoctorReport, type ImagesResult } from './commands.ts';
