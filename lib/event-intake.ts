import { EventBus } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';

/**
 * Event-driven sends (issue 7): the stack's EventBridge bus, where other systems will put one-gift
 * events. Nothing is routed from it yet: issue 7 adds the intake queue, its handler and the rules
 * that join those events to the send queue. An empty bus costs nothing.
 */
export class EventIntakeConstruct extends Construct {
  readonly bus: EventBus;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.bus = new EventBus(this, 'Bus', {
      description: 'gift-batch: one-gift events from other systems (routing arrives with issue 7)',
    });
  }
}
