// An empty list says the next step of the workflow, never one the admin has already done: the
// page names the steps in workflow order, each with whether it applies now, and the first that
// applies is shown (e.g. no "Press Discover" once discovery found VMs to register).
import type { ReactElement, ReactNode } from 'react';
import { EmptyState } from './ui.js';

export interface NextStep {
  /** This step is the next one to take now (its earlier steps are done). */
  applies: boolean;
  body: string;
  action?: ReactNode;
}

export function NextStepEmptyState({ icon, title, steps }: { icon: ReactElement; title: string; steps: readonly NextStep[] }): ReactElement {
  const next = steps.find((s) => s.applies) ?? steps[steps.length - 1];
  return <EmptyState icon={icon} title={title} {...(next ? { body: next.body, action: next.action } : {})} />;
}
