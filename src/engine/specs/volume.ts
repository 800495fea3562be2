/** A project's named volume as the engine creates it: the project's labels, so `berth down -v` and listings find it. */
import type { Volume } from '../../project/model.js';
import type { VolumeSpec } from '../engine.js';
import { label } from '../labels.js';

export function volumeSpec(project: string, v: Volume): VolumeSpec {
  return { name: v.name, driver: v.driver, labels: { ...v.labels, [label.project]: project, [label.composeProject]: project } };
}
